using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Conclave.Bench;

/// <summary>One compact JSON object per report, for scripts (<c>--json</c>).</summary>
internal static class BenchJson
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

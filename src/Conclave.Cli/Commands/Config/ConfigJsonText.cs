using System.Text;
using System.Text.Json;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// Prints the API's JSON answers: one line (-o json) or indented (export files). The answers are written as they
/// came (a <see cref="JsonElement"/> written out, no reflection), so the CLI's output is the API's JSON.
/// </summary>
internal static class ConfigJsonText
{
    public static string Compact(JsonElement value) => Write(value, indented: false);

    public static string Indented(JsonElement value) => Write(value, indented: true);

    private static string Write(JsonElement value, bool indented)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            value.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

using System.Text;
using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Http2;

/// <summary>Collects decoded header fields as strings.</summary>
internal sealed class RecordingSink : IHeaderSink
{
    public List<(string Name, string Value)> Fields { get; } = [];

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        Fields.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
}

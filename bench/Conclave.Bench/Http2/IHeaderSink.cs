namespace Conclave.Bench.Http2;

/// <summary>Receives the fields of a decoded header block; the spans are valid only during the call.</summary>
internal interface IHeaderSink
{
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

namespace Conclave.Bench.Http2;

/// <summary>A connection error (RFC 9113 §5.4.1): the connection sends GOAWAY with <see cref="ErrorCode"/> and closes.</summary>
internal sealed class Http2ProtocolException(Http2ErrorCode errorCode, string message) : Exception(message)
{
    public Http2ErrorCode ErrorCode { get; } = errorCode;
}

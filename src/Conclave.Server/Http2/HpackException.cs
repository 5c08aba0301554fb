namespace Conclave.Server.Http2;

/// <summary>A header block that cannot be decoded; for the connection this is a COMPRESSION_ERROR (RFC 7541 §3).</summary>
internal sealed class HpackException(string message) : Exception(message);

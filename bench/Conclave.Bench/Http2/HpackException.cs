namespace Conclave.Bench.Http2;

/// <summary>
/// A header block that cannot be decoded (for the connection a COMPRESSION_ERROR, RFC 7541 §3), or one that passed
/// one of the decoder's <see cref="HpackLimits"/> (<see cref="LimitExceeded"/>).
/// </summary>
internal sealed class HpackException(string message, bool limitExceeded = false) : Exception(message)
{
    /// <summary>The block is well-formed as far as it was read, but larger than this side accepts.</summary>
    public bool LimitExceeded { get; } = limitExceeded;
}

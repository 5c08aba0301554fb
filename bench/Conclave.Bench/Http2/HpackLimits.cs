namespace Conclave.Bench.Http2;

/// <summary>
/// What one header block may decode to. The decoder checks each bound as it goes and stops at the first one passed,
/// so a block of one-byte references to a large dynamic table entry (each decoding to kilobytes) costs no more than
/// the bound, however long the block is.
/// </summary>
/// <param name="MaxStringLength">Longest name or value, as encoded and as decoded (Kestrel's MaxRequestHeaderFieldSize).</param>
/// <param name="MaxHeaderListSize">Most name plus value octets in one block.</param>
/// <param name="MaxFieldCount">Most fields in one block.</param>
internal readonly record struct HpackLimits(int MaxStringLength, int MaxHeaderListSize, int MaxFieldCount)
{
    /// <summary>
    /// Only a guard against absurd string lengths: for the benchmark's client, which decodes the responses of the
    /// server it measures.
    /// </summary>
    public static HpackLimits Lenient { get; } = new(1 << 20, int.MaxValue, int.MaxValue);
}

namespace Conclave.Storage.Mvcc;

/// <summary>
/// Bytes a keyspace's keys section takes in a snapshot image (format 4): a count, then per key its length-prefixed
/// bytes and version count, then per version its revision, sub and kind and, unless a tombstone, create revision,
/// version, lease and length-prefixed value. The keyspace keeps the sum as it changes, so a capture knows the image's
/// length at once instead of walking every key on the apply thread (ADR 0017).
/// </summary>
internal static class SnapshotSizes
{
    /// <summary>The section's key count.</summary>
    public const long Header = 4;

    public static long Key(int keyLength) => Length7Bit(keyLength) + keyLength + 4;

    public static long Version(in KeyVersion version) =>
        version.IsTombstone ? 8 + 4 + 1 : 8 + 4 + 1 + 8 + 8 + 8 + Length7Bit(version.ValueLength) + version.ValueLength;

    public static int Length7Bit(int value)
    {
        var bytes = 1;
        for (var v = (uint)value; v >= 0x80; v >>= 7)
        {
            bytes++;
        }

        return bytes;
    }
}

using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>Byte-wise ordering of keys, as etcd orders them.</summary>
public static class KeyOrder
{
    public static int Compare(ByteString a, ByteString b) => a.Span.SequenceCompareTo(b.Span);

    /// <summary>
    /// True when <paramref name="key"/> lies in [start, end) with etcd's conventions: an empty end means the
    /// single key <paramref name="start"/>; the end "\0" means every key >= start.
    /// </summary>
    public static bool InRange(ByteString key, ByteString start, ByteString end)
    {
        if (end.IsEmpty)
        {
            return key.Span.SequenceEqual(start.Span);
        }

        if (key.Span.SequenceCompareTo(start.Span) < 0)
        {
            return false;
        }

        return IsOpenEnd(end) || key.Span.SequenceCompareTo(end.Span) < 0;
    }

    /// <summary>The range end "\0": no upper bound.</summary>
    public static bool IsOpenEnd(ByteString end) => end.Length == 1 && end[0] == 0;

    /// <summary>The smallest key greater than every key with this prefix (etcd's GetPrefixRangeEnd).</summary>
    public static ByteString PrefixEnd(ByteString prefix)
    {
        var bytes = prefix.ToByteArray();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        // Every byte is 0xff (or the prefix is empty): the range is open-ended.
        return ByteString.CopyFrom(0);
    }
}

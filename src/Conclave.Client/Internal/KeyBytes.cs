using Google.Protobuf;

namespace Conclave.Client.Internal;

/// <summary>Turns the caller's key and value forms into protobuf bytes, and computes range ends.</summary>
internal static class KeyBytes
{
    /// <summary>The range end that means "every key from the start key on" (etcd's "\0").</summary>
    public static readonly ByteString FromKeyEnd = ByteString.CopyFrom(0);

    public static ByteString From(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return ByteString.CopyFromUtf8(value);
    }

    // Copies: the caller may reuse its buffer after the call returns.
    public static ByteString From(ReadOnlyMemory<byte> value) => ByteString.CopyFrom(value.Span);

    public static ByteString Checked(ByteString value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value;
    }

    /// <summary>
    /// The smallest key greater than every key starting with <paramref name="prefix"/>: the prefix with its last
    /// byte below 0xff incremented and the rest cut off. A prefix of only 0xff bytes (or an empty one) has no
    /// such key, so the range runs to the end of the keyspace.
    /// </summary>
    public static ByteString PrefixEnd(ByteString prefix)
    {
        var span = prefix.Span;
        for (var i = span.Length - 1; i >= 0; i--)
        {
            if (span[i] < 0xff)
            {
                var end = span[..(i + 1)].ToArray();
                end[i]++;
                return UnsafeByteOperations.UnsafeWrap(end);
            }
        }

        return FromKeyEnd;
    }

    /// <summary>Resolves the (key, range end) pair a request sends for the given range options.</summary>
    public static (ByteString Key, ByteString RangeEnd) Range(ByteString key, bool prefix, bool fromKey, ByteString? rangeEnd)
    {
        if ((prefix ? 1 : 0) + (fromKey ? 1 : 0) + (rangeEnd is null ? 0 : 1) > 1)
        {
            throw new ArgumentException("Use only one of Prefix, FromKey and RangeEnd.");
        }

        if (prefix)
        {
            // An empty prefix means the whole keyspace: etcd spells it as key "\0", range end "\0".
            return key.IsEmpty ? (FromKeyEnd, FromKeyEnd) : (key, PrefixEnd(key));
        }

        if (fromKey)
        {
            return (key.IsEmpty ? FromKeyEnd : key, FromKeyEnd);
        }

        return (key, rangeEnd ?? ByteString.Empty);
    }
}

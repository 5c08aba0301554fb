namespace Conclave.Bench.Http2;

/// <summary>
/// The HPACK dynamic table (RFC 7541 §2.3.2, §4): newest entry first, sized as name + value + 32 per entry, oldest
/// entries evicted to stay within the maximum size. Each entry is one array holding name then value.
/// </summary>
internal sealed class HpackDynamicTable
{
    public const int EntryOverhead = 32;

    private (byte[] Data, int NameLength)[] _ring;
    private int _newest = -1;

    public HpackDynamicTable(int maxSize)
    {
        MaxSize = maxSize;
        _ring = new (byte[], int)[Math.Max(1, maxSize / EntryOverhead)];
    }

    /// <summary>Number of entries.</summary>
    public int Count { get; private set; }

    /// <summary>Sum of the entry sizes (RFC 7541 §4.1).</summary>
    public int Size { get; private set; }

    public int MaxSize { get; private set; }

    /// <param name="index">0 is the newest entry.</param>
    public ReadOnlySpan<byte> Name(int index)
    {
        var (data, nameLength) = At(index);
        return data.AsSpan(0, nameLength);
    }

    /// <param name="index">0 is the newest entry.</param>
    public ReadOnlySpan<byte> Value(int index)
    {
        var (data, nameLength) = At(index);
        return data.AsSpan(nameLength);
    }

    /// <summary>Adds an entry, evicting old ones; an entry larger than the table empties it (RFC 7541 §4.4).</summary>
    public void Insert(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        // Copy first: the name may live in an entry this insertion evicts.
        var data = new byte[name.Length + value.Length];
        name.CopyTo(data);
        value.CopyTo(data.AsSpan(name.Length));
        var size = data.Length + EntryOverhead;
        EvictTo(MaxSize - size);
        if (size > MaxSize)
        {
            return;
        }

        if (Count == _ring.Length)
        {
            Grow();
        }

        _newest = (_newest + 1) % _ring.Length;
        _ring[_newest] = (data, name.Length);
        Count++;
        Size += size;
    }

    /// <summary>Applies a dynamic table size update (RFC 7541 §6.3), evicting as needed.</summary>
    public void Resize(int maxSize)
    {
        MaxSize = maxSize;
        EvictTo(maxSize);
    }

    private (byte[] Data, int NameLength) At(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new HpackException($"Dynamic table index {index + HpackStaticTable.Count + 1} is beyond its {Count} entries.");
        }

        return _ring[(_newest - index + _ring.Length) % _ring.Length];
    }

    private void EvictTo(int target)
    {
        while (Count > 0 && Size > target)
        {
            var oldest = (_newest - Count + 1 + _ring.Length) % _ring.Length;
            Size -= _ring[oldest].Data.Length + EntryOverhead;
            _ring[oldest] = default;
            Count--;
        }
    }

    private void Grow()
    {
        var bigger = new (byte[], int)[_ring.Length * 2];
        for (var i = 0; i < Count; i++)
        {
            // Oldest first, so the newest lands at Count - 1.
            bigger[i] = _ring[(_newest - Count + 1 + i + _ring.Length) % _ring.Length];
        }

        _ring = bigger;
        _newest = Count - 1;
    }
}

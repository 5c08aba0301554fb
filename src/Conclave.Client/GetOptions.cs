using Google.Protobuf;

namespace Conclave.Client;

/// <summary>Options of a read (<see cref="ConclaveClient.GetAsync(string, GetOptions?, CancellationToken)"/>).</summary>
public sealed record GetOptions
{
    /// <summary>Read every key that starts with the given key.</summary>
    public bool Prefix { get; init; }

    /// <summary>Read every key greater than or equal to the given key.</summary>
    public bool FromKey { get; init; }

    /// <summary>Exclusive end of the key range; <c>null</c> reads a single key (unless <see cref="Prefix"/> or <see cref="FromKey"/>).</summary>
    public ByteString? RangeEnd { get; init; }

    /// <summary>Read the keyspace as of this revision; zero (the default) reads the newest one.</summary>
    public long Revision { get; init; }

    /// <summary>Maximum number of keys returned; zero means no limit.</summary>
    public long Limit { get; init; }

    /// <summary>Field to sort by (used when <see cref="SortOrder"/> is not <see cref="Client.SortOrder.None"/>).</summary>
    public SortTarget SortTarget { get; init; }

    /// <summary>Sort direction.</summary>
    public SortOrder SortOrder { get; init; }

    /// <summary>Return keys and metadata without values.</summary>
    public bool KeysOnly { get; init; }

    /// <summary>Return only the number of keys in the range.</summary>
    public bool CountOnly { get; init; }

    /// <summary>
    /// Serve the read from the contacted member's local state without a consensus round trip. Faster, but it may
    /// return stale data. The default (<c>false</c>) is a linearizable read.
    /// </summary>
    public bool Serializable { get; init; }
}

using Google.Protobuf;

namespace Conclave.Client;

/// <summary>Options of a watch (<see cref="ConclaveClient.WatchAsync(string, WatchOptions?, CancellationToken)"/>).</summary>
public sealed record WatchOptions
{
    /// <summary>Watch every key that starts with the given key.</summary>
    public bool Prefix { get; init; }

    /// <summary>Watch every key greater than or equal to the given key.</summary>
    public bool FromKey { get; init; }

    /// <summary>Exclusive end of the watched key range; <c>null</c> watches a single key (unless <see cref="Prefix"/> or <see cref="FromKey"/>).</summary>
    public ByteString? RangeEnd { get; init; }

    /// <summary>
    /// First revision to deliver (inclusive). Zero (the default) starts after the revision current when the
    /// server creates the watch. A revision that has been compacted fails the watch with
    /// <see cref="WatchCompactedException"/>.
    /// </summary>
    public long StartRevision { get; init; }

    /// <summary>Include the previous key-value pair in every event.</summary>
    public bool PrevKv { get; init; }

    /// <summary>Do not deliver put events.</summary>
    public bool NoPut { get; init; }

    /// <summary>Do not deliver delete events.</summary>
    public bool NoDelete { get; init; }

    /// <summary>
    /// Ask the server for periodic progress notifications while the watch is idle; they arrive as
    /// <see cref="WatchBatch"/>es with <see cref="WatchBatch.IsProgressNotify"/> set (and also move the resume point forward).
    /// </summary>
    public bool ProgressNotify { get; init; }

    /// <summary>Capacity, in server responses, of this watch's buffer; zero uses <see cref="ConclaveClientOptions.WatchBufferCapacity"/>.</summary>
    public int BufferCapacity { get; init; }
}

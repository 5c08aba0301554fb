namespace Conclave.Client;

/// <summary>
/// A watch cannot continue because the revision it must resume from has been compacted. Events between the
/// requested revision and <see cref="CompactRevision"/> are gone: re-read the current state and watch again from
/// the revision of that read + 1.
/// </summary>
public sealed class WatchCompactedException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="compactRevision">The revision the keyspace has been compacted to.</param>
    /// <param name="requestedRevision">The revision the watch asked to start (or resume) from.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    public WatchCompactedException(long compactRevision, long requestedRevision, string? endpoint)
        : base(
            $"The watch cannot start at revision {requestedRevision}: the keyspace is compacted up to revision {compactRevision}.",
            Grpc.Core.StatusCode.OutOfRange,
            null,
            endpoint,
            null)
    {
        CompactRevision = compactRevision;
        RequestedRevision = requestedRevision;
    }

    /// <summary>The revision the keyspace has been compacted to; the oldest revision a watch can still start from.</summary>
    public long CompactRevision { get; }

    /// <summary>The revision the watch asked to start (or resume) from.</summary>
    public long RequestedRevision { get; }
}

namespace Conclave.Client;

/// <summary>The events of one watch response, or a progress notification when <see cref="Events"/> is empty.</summary>
/// <param name="Revision">Keyspace revision the server reported with this response.</param>
/// <param name="Events">The events, in revision order.</param>
/// <param name="IsProgressNotify">Whether this is a progress notification: every change up to <see cref="Revision"/> has been delivered.</param>
public sealed record WatchBatch(long Revision, IReadOnlyList<WatchEvent> Events, bool IsProgressNotify);

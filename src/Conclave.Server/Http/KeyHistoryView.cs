namespace Conclave.Server.Http;

/// <summary>Every retained revision of one key, newest first; history before <see cref="CompactRevision"/> is gone.</summary>
public sealed record KeyHistoryView(string Key, long Revision, long CompactRevision, IReadOnlyList<KeyRevision> Revisions);

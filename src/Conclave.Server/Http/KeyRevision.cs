namespace Conclave.Server.Http;

/// <summary>One retained revision of a key: a put (with its value) or a delete.</summary>
public sealed record KeyRevision(long Revision, string Type, string? Value, bool Binary, long CreateRevision, long Version, string? Lease);

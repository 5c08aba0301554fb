namespace Conclave.Server.Http;

/// <summary>One key in a lock or election queue; <see cref="CreateRevision"/> is the fencing token of a holder.</summary>
public sealed record LockHolderView(string Key, string Lease, long CreateRevision, string Value);

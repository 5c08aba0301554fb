namespace Conclave.Client;

/// <summary>Result of <see cref="ConclaveClient.LeaseRevokeAsync"/>.</summary>
/// <param name="Revision">Revision of the keyspace after the revoke (the keys attached to the lease are deleted at it).</param>
public sealed record LeaseRevokeResult(long Revision);

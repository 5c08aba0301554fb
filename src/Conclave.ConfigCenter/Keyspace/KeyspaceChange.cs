using Conclave.Api.Mvcc;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>The events of one revision that fell under a watched prefix.</summary>
public sealed record KeyspaceChange(long Revision, IReadOnlyList<Event> Events);

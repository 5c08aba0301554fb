namespace Conclave.Client;

/// <summary>The answer to a member addition.</summary>
/// <param name="Member">The member added (unstarted: no name yet).</param>
/// <param name="Members">The member list after the change.</param>
/// <param name="ClusterId">The cluster's id.</param>
public sealed record MemberChangeResult(MemberInfo Member, IReadOnlyList<MemberInfo> Members, ulong ClusterId);

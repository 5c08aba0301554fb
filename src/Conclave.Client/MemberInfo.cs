namespace Conclave.Client;

/// <summary>One member of the cluster.</summary>
/// <param name="Id">Member ID.</param>
/// <param name="Name">Member name; empty while an added member has not started yet.</param>
/// <param name="PeerUrls">URLs the members use to talk to this one.</param>
/// <param name="ClientUrls">URLs clients use to talk to this member.</param>
/// <param name="IsLearner">Whether the member is a non-voting learner.</param>
public sealed record MemberInfo(ulong Id, string Name, IReadOnlyList<string> PeerUrls, IReadOnlyList<string> ClientUrls, bool IsLearner)
{
    /// <summary>Whether the member has started (joined with a name).</summary>
    public bool IsStarted => Name.Length > 0;
}

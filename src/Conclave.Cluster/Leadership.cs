namespace Conclave.Cluster;

/// <summary>
/// A leadership this member holds: the term it leads in, and a token cancelled when that leadership ends (DotNext's
/// <c>LeadershipToken</c> is the model). A member leads at most once per term, so the term names the leadership: work
/// that belongs to one leadership (lease deadlines, a learner feed) compares terms, and a member that lost and regained
/// the lead between two looks sees a new term even if it never saw itself as a follower.
/// </summary>
/// <param name="Term">The term this member leads in; 0 when it does not lead.</param>
/// <param name="Token">Cancelled when this leadership ends; already cancelled when the member does not lead.</param>
public readonly record struct Leadership(long Term, CancellationToken Token)
{
    /// <summary>Not leading: term 0, a cancelled token.</summary>
    public static Leadership None { get; } = new(0, new CancellationToken(canceled: true));

    /// <summary>Whether the leadership is still held (it may end the moment after; use <see cref="Token"/> to follow it).</summary>
    public bool IsHeld => Term > 0 && !Token.IsCancellationRequested;
}

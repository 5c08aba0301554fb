namespace Conclave.Server.Diagnostics;

/// <summary>
/// Decides whether this follower is stalled: it has not applied, within <see cref="Threshold"/>, what the leader
/// had committed <see cref="Threshold"/> ago. An idle cluster (nothing new committed) is never "stalled", and a
/// follower that is merely behind but moving is not either, as long as it reaches old commit points in time.
/// </summary>
public sealed class FollowerProgress(TimeSpan threshold)
{
    private readonly Queue<(DateTimeOffset At, long LeaderCommit)> samples = new();
    private readonly Lock gate = new();
    private long lag;
    private bool stalled;

    /// <summary>How long a follower may take to apply what the leader had committed.</summary>
    public TimeSpan Threshold { get; } = threshold;

    /// <summary>Leader's last known commit index minus this member's applied index (0 when leading or unknown).</summary>
    public long Lag => Volatile.Read(ref lag);

    /// <summary>True while this follower is stalled (see the type's summary).</summary>
    public bool Stalled => Volatile.Read(ref stalled);

    /// <summary>Records one observation: the leader's commit index now and this member's applied index.</summary>
    public void Observe(DateTimeOffset now, long leaderCommit, long applied)
    {
        lock (gate)
        {
            samples.Enqueue((now, leaderCommit));

            // Keep the newest sample that is at least Threshold old: the commit point to have applied by now.
            while (samples.Count > 1 && now - samples.ElementAt(1).At >= Threshold)
            {
                samples.Dequeue();
            }

            var oldest = samples.Peek();
            Volatile.Write(ref lag, Math.Max(0, leaderCommit - applied));
            Volatile.Write(ref stalled, now - oldest.At >= Threshold && oldest.LeaderCommit > applied);
        }
    }

    /// <summary>This member leads, or knows no leader: nothing to compare with.</summary>
    public void Reset()
    {
        lock (gate)
        {
            samples.Clear();
            Volatile.Write(ref lag, 0);
            Volatile.Write(ref stalled, false);
        }
    }
}

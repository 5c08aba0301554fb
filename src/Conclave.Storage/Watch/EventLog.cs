using Conclave.Api.Mvcc;

namespace Conclave.Storage.Watch;

/// <summary>
/// The events of every retained revision, in revision order: the history that watchers replay and catch up
/// from. Appended by the apply thread; read concurrently by watch pumps; truncated by compaction.
/// </summary>
public sealed class EventLog
{
    private readonly Lock gate = new();
    private readonly List<RevisionEvents> entries = [];
    private int head; // index of the first retained entry in `entries`
    private long firstRetainedRevision = 1;

    /// <summary>Revisions below this are gone: reading from them is a compaction error.</summary>
    public long FirstRetainedRevision
    {
        get { lock (gate) { return firstRetainedRevision; } }
    }

    public void Append(long revision, Event[] events)
    {
        lock (gate)
        {
            entries.Add(new RevisionEvents(revision, events));
        }
    }

    /// <summary>Drops every revision below <paramref name="revision"/>.</summary>
    public void TruncateBefore(long revision)
    {
        lock (gate)
        {
            while (head < entries.Count && entries[head].Revision < revision)
            {
                entries[head] = default;
                head++;
            }

            firstRetainedRevision = Math.Max(firstRetainedRevision, revision);

            // History before the compaction revision is gone, so the previous values of the events at that
            // revision are too: drop them here as well, so a member restored from a snapshot serves the same.
            if (head < entries.Count && entries[head].Revision == revision)
            {
                var events = entries[head].Events;
                for (var i = 0; i < events.Length; i++)
                {
                    if (events[i].PrevKv is { } prev && prev.ModRevision < revision)
                    {
                        events[i] = new Event { Type = events[i].Type, Kv = events[i].Kv };
                    }
                }
            }

            if (head > 1024 && head > entries.Count / 2)
            {
                entries.RemoveRange(0, head);
                head = 0;
            }
        }
    }

    public void Clear(long firstRetained)
    {
        lock (gate)
        {
            entries.Clear();
            head = 0;
            firstRetainedRevision = firstRetained;
        }
    }

    /// <summary>
    /// Copies into <paramref name="into"/> the revisions from <paramref name="fromRevision"/> up to
    /// <paramref name="toRevision"/> (inclusive), at most about <paramref name="maxEvents"/> events (whole revisions).
    /// Returns false when <paramref name="fromRevision"/> has been compacted.
    /// </summary>
    public bool Read(long fromRevision, long toRevision, int maxEvents, List<RevisionEvents> into)
    {
        lock (gate)
        {
            if (fromRevision < firstRetainedRevision)
            {
                return false;
            }

            var i = FindFirstAtOrAfter(fromRevision);
            var taken = 0;
            for (; i < entries.Count; i++)
            {
                var e = entries[i];
                if (e.Revision > toRevision || (taken > 0 && taken + e.Events.Length > maxEvents))
                {
                    break;
                }

                into.Add(e);
                taken += e.Events.Length;
            }

            return true;
        }
    }

    private int FindFirstAtOrAfter(long revision)
    {
        int lo = head, hi = entries.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (entries[mid].Revision < revision)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}

/// <summary>The events one revision produced, in the order the writes happened.</summary>
public readonly record struct RevisionEvents(long Revision, Event[] Events);

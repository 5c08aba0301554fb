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

    /// <summary>Appends a revision of one event (no array around it).</summary>
    public void Append(long revision, Event single)
    {
        lock (gate)
        {
            entries.Add(new RevisionEvents(revision, single));
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
                var events = entries[head];
                for (var i = 0; i < events.Count; i++)
                {
                    if (events[i].PrevKv is { } prev && prev.ModRevision < revision)
                    {
                        events = events.With(i, new Event { Type = events[i].Type, Kv = events[i].Kv });
                    }
                }

                entries[head] = events;
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
                if (e.Revision > toRevision || (taken > 0 && taken + e.Count > maxEvents))
                {
                    break;
                }

                into.Add(e);
                taken += e.Count;
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

/// <summary>
/// The events one revision produced, in the order the writes happened. Most revisions are one write, so a single
/// event is kept without an array around it (32 bytes less for every retained revision).
/// </summary>
public readonly struct RevisionEvents
{
    private readonly object events; // Event, or Event[] when the revision has more (or no) events

    public RevisionEvents(long revision, Event[] events)
    {
        Revision = revision;
        this.events = events.Length == 1 ? events[0] : events;
    }

    public RevisionEvents(long revision, Event single)
    {
        Revision = revision;
        events = single;
    }

    public long Revision { get; }

    public int Count => events is Event[] many ? many.Length : 1;

    public Event this[int index] => events is Event[] many
        ? many[index]
        : index == 0 ? (Event)events : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>A copy with the event at <paramref name="index"/> replaced (an array is replaced in place).</summary>
    internal RevisionEvents With(int index, Event replacement)
    {
        if (events is Event[] many)
        {
            many[index] = replacement;
            return this;
        }

        ArgumentOutOfRangeException.ThrowIfNotEqual(index, 0);
        return new RevisionEvents(Revision, replacement);
    }
}

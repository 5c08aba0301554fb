using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;

namespace Conclave.Storage.Watch;

/// <summary>
/// The events of every retained revision, in revision order: the history that watchers replay and catch up from.
/// Appended by the apply thread; read concurrently by watch pumps; truncated by compaction.
/// A revision is kept as the keys it changed (their histories, in sub-revision order), not as event objects: a
/// revision's events are made from the histories when read (ADR 0017), and those of the newest revisions are kept
/// once made, so the thousands of watchers that read a new revision share one set of events.
/// Revisions are dense (every write that changes a key makes the next one), so an entry is only what the revision
/// changed, at its place in a <see cref="SegmentedLog{T}"/>: 4 bytes a revision, the row of the key it changed, its
/// number given by its place (a revision missing from a restored history, which is rare, has an empty place; one that
/// changed several keys is kept aside).
/// </summary>
public sealed class EventLog
{
    private const int Empty = -1; // a place with nothing retained
    private const int Several = -2; // a revision of several changes (or one not at sub-revision 0): in several

    private const int RecentRevisions = 1024; // made events kept for this many of the newest revisions

    private readonly Lock gate = new();
    private readonly SegmentedLog<int> entries = new(); // the row of the one key changed at sub-revision 0, Empty or Several
    private readonly Dictionary<long, Change[]> several = []; // by revision
    private HistoryRows rows;                                // the keyspace's rows the entries name
    private long revisionAtZero; // the revision at place 0 of entries
    private long appended;       // revisions appended since the log was made or cleared
    private long gapPlaces;      // empty places added for revisions missing from a restored history, since then
    private readonly RevisionEvents[] recent = new RevisionEvents[RecentRevisions]; // by revision % RecentRevisions
    private long firstRetainedRevision = 1;
    private long newestRevision;

    /// <summary>Revisions of several changes kept aside (for tests).</summary>
    internal int SeveralCount
    {
        get { lock (gate) { return several.Count; } }
    }

    /// <summary>Revisions below this are gone: reading from them is a compaction error.</summary>
    public long FirstRetainedRevision
    {
        get { lock (gate) { return firstRetainedRevision; } }
    }

    internal EventLog(HistoryRows rows) => this.rows = rows;

    /// <summary>Appends a revision whose sub-revisions 0, 1, ... changed the keys of <paramref name="changed"/>' rows.</summary>
    internal void Append(long revision, int[] changed)
    {
        if (changed.Length == 1)
        {
            Append(revision, changed[0]);
            return;
        }

        var changes = changed.Select((row, sub) => new Change(row, sub)).ToArray();
        lock (gate)
        {
            Add(revision, changes);
        }
    }

    /// <summary>Appends a revision that changed one key (its row), at sub-revision 0 (no array around it).</summary>
    internal void Append(long revision, int changed)
    {
        lock (gate)
        {
            Add(revision, changed, null);
        }
    }

    /// <summary>Appends a revision's changes (a restored snapshot's: their sub-revisions may have gaps after a compaction).</summary>
    internal void Append(long revision, Change[] changes)
    {
        lock (gate)
        {
            Add(revision, changes);
        }
    }

    private void Add(long revision, Change[] changes)
    {
        if (changes is [{ Sub: 0 } only])
        {
            Add(revision, only.Row, null);
        }
        else
        {
            Add(revision, Several, changes);
        }
    }

    private void Add(long revision, int entry, Change[]? changes)
    {
        if (entries.End == 0)
        {
            revisionAtZero = revision;
        }
        else if (revision <= newestRevision)
        {
            throw new InvalidOperationException($"revision {revision} appended after {newestRevision}");
        }

        // A history keeps every version at or after its compaction, so a restored one has no missing revisions; the
        // snapshot reader refuses an image that claims many (KeyValueStore.CheckRetainedRevisions). This is the same
        // bound, kept here so that no caller can make the log allocate a place for each of 2^50 revisions.
        var gap = revision - (revisionAtZero + entries.End);
        if (gap > 0 && gapPlaces + gap > appended + SegmentedLog<int>.SegmentLength)
        {
            throw new InvalidOperationException(
                $"revision {revision} follows {newestRevision}: the restored history leaves {gapPlaces + gap} revisions missing for {appended} present");
        }

        for (; gap > 0; gap--)
        {
            entries.Add(Empty); // a revision with nothing retained
            gapPlaces++;
        }

        if (changes is not null)
        {
            several.Add(revision, changes);
        }

        entries.Add(entry);
        appended++;
        newestRevision = revision;
    }

    /// <summary>
    /// Drops every revision below <paramref name="revision"/>, after <paramref name="compactHistories"/> has compacted the
    /// keys' histories: it runs under this log's lock, so no watcher makes events from a history while it changes.
    /// Events at the compaction revision lose their previous values from before it, as the histories do (a member
    /// restored from a snapshot serves the same).
    /// </summary>
    internal void TruncateBefore(long revision, Action compactHistories)
    {
        lock (gate)
        {
            compactHistories();
            var first = FindFirstAtOrAfter(revision);
            for (var i = entries.Start; i < first; i++)
            {
                if (entries[i] == Several)
                {
                    several.Remove(revisionAtZero + i);
                }
            }

            entries.DropBefore(first);
            firstRetainedRevision = Math.Max(firstRetainedRevision, revision);
            Array.Clear(recent); // made before the compaction: their previous values may be gone now
        }
    }

    /// <summary>Empties the log for a keyspace restored into <paramref name="restoredRows"/>.</summary>
    internal void Clear(long firstRetained, HistoryRows restoredRows)
    {
        lock (gate)
        {
            rows = restoredRows;
            entries.Clear();
            several.Clear();
            revisionAtZero = appended = gapPlaces = 0;
            Array.Clear(recent);
            firstRetainedRevision = firstRetained;
            newestRevision = 0;
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

            var taken = 0;
            for (var i = FindFirstAtOrAfter(fromRevision); i < entries.End; i++)
            {
                var entry = entries[i];
                var r = revisionAtZero + i;
                var count = entry switch { Several => several[r].Length, Empty => 0, _ => 1 };
                if (r > toRevision || (taken > 0 && taken + count > maxEvents))
                {
                    break;
                }

                if (entry != Empty)
                {
                    into.Add(EventsOf(r, entry));
                    taken += count;
                }
            }

            return true;
        }
    }

    /// <summary>The events of one logged revision: made from the histories, or those made already for a recent revision.</summary>
    private RevisionEvents EventsOf(long revision, int entry)
    {
        var slot = (int)(revision % RecentRevisions);
        if (recent[slot].Revision == revision && recent[slot].Count > 0)
        {
            return recent[slot];
        }

        // A change is missing from its key's history only when the same key changed again later in the compaction
        // revision (compaction keeps the version visible at it): etcd's history loses that event too.
        Event? history(int row, int sub) => new KeyHistory(rows, row).EventAt(revision, sub);

        RevisionEvents made;
        if (entry != Several)
        {
            made = history(entry, 0) is { } e ? new RevisionEvents(revision, e) : new RevisionEvents(revision, []);
        }
        else
        {
            var many = several[revision];
            var events = new List<Event>(many.Length);
            foreach (var (changed, sub) in many)
            {
                if (history(changed, sub) is { } e)
                {
                    events.Add(e);
                }
            }

            made = new RevisionEvents(revision, events.ToArray());
        }

        if (revision > newestRevision - RecentRevisions)
        {
            recent[slot] = made;
        }

        return made;
    }


    /// <summary>The place of <paramref name="revision"/>, or of the first kept after it.</summary>
    private long FindFirstAtOrAfter(long revision) => Math.Clamp(revision - revisionAtZero, entries.Start, entries.End);

    /// <summary>A change of one revision: the row of the key's history and the change's sub-revision.</summary>
    internal readonly record struct Change(int Row, int Sub);
}

/// <summary>
/// The events one revision produced, in the order the writes happened. Most revisions are one write, so a single
/// event is kept without an array around it.
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

    public int Count => events switch { Event[] many => many.Length, null => 0, _ => 1 };

    public Event this[int index] => events is Event[] many
        ? many[index]
        : index == 0 && events is Event single ? single : throw new ArgumentOutOfRangeException(nameof(index));
}

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
/// changed, at its place in a <see cref="SegmentedLog{T}"/>: 8 bytes a revision, its number given by its place (a
/// revision missing from a restored history, which is rare, has an empty place).
/// </summary>
public sealed class EventLog
{
    private const int RecentRevisions = 1024; // made events kept for this many of the newest revisions

    private readonly Lock gate = new();
    private readonly SegmentedLog<object?> entries = new(); // a KeyHistory (one change at sub-revision 0), a Change[], or null
    private long revisionAtZero; // the revision at place 0 of entries
    private long appended;       // revisions appended since the log was made or cleared
    private long gapPlaces;      // empty places added for revisions missing from a restored history, since then
    private readonly RevisionEvents[] recent = new RevisionEvents[RecentRevisions]; // by revision % RecentRevisions
    private long firstRetainedRevision = 1;
    private long newestRevision;

    /// <summary>Revisions below this are gone: reading from them is a compaction error.</summary>
    public long FirstRetainedRevision
    {
        get { lock (gate) { return firstRetainedRevision; } }
    }

    /// <summary>Appends a revision whose sub-revisions 0, 1, ... changed <paramref name="changed"/>' keys.</summary>
    internal void Append(long revision, KeyHistory[] changed)
    {
        if (changed.Length == 1)
        {
            Append(revision, changed[0]);
            return;
        }

        var changes = changed.Select((h, sub) => new Change(h, sub)).ToArray();
        lock (gate)
        {
            Add(revision, changes);
        }
    }

    /// <summary>Appends a revision that changed one key, at sub-revision 0 (no array around it).</summary>
    internal void Append(long revision, KeyHistory changed)
    {
        lock (gate)
        {
            Add(revision, changed);
        }
    }

    /// <summary>Appends a revision's changes (a restored snapshot's: their sub-revisions may have gaps after a compaction).</summary>
    internal void Append(long revision, Change[] changes)
    {
        object kept = changes is [{ Sub: 0 } only] ? only.History : changes;
        lock (gate)
        {
            Add(revision, kept);
        }
    }

    private void Add(long revision, object changes)
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
        if (gap > 0 && gapPlaces + gap > appended + SegmentedLog<object?>.SegmentLength)
        {
            throw new InvalidOperationException(
                $"revision {revision} follows {newestRevision}: the restored history leaves {gapPlaces + gap} revisions missing for {appended} present");
        }

        for (; gap > 0; gap--)
        {
            entries.Add(null); // a revision with nothing retained
            gapPlaces++;
        }

        entries.Add(changes);
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
            entries.DropBefore(FindFirstAtOrAfter(revision));
            firstRetainedRevision = Math.Max(firstRetainedRevision, revision);
            Array.Clear(recent); // made before the compaction: their previous values may be gone now
        }
    }

    internal void Clear(long firstRetained)
    {
        lock (gate)
        {
            entries.Clear();
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
                var changes = entries[i];
                var count = changes switch { Change[] many => many.Length, null => 0, _ => 1 };
                if (revisionAtZero + i > toRevision || (taken > 0 && taken + count > maxEvents))
                {
                    break;
                }

                if (changes is not null)
                {
                    into.Add(EventsOf(revisionAtZero + i, changes));
                    taken += count;
                }
            }

            return true;
        }
    }

    /// <summary>The events of one logged revision: made from the histories, or those made already for a recent revision.</summary>
    private RevisionEvents EventsOf(long revision, object changes)
    {
        var slot = (int)(revision % RecentRevisions);
        if (recent[slot].Revision == revision && recent[slot].Count > 0)
        {
            return recent[slot];
        }

        // A change is missing from its key's history only when the same key changed again later in the compaction
        // revision (compaction keeps the version visible at it): etcd's history loses that event too.
        Event? history(KeyHistory h, int sub) => h.EventAt(revision, sub);

        RevisionEvents made;
        if (changes is KeyHistory single)
        {
            made = history(single, 0) is { } e ? new RevisionEvents(revision, e) : new RevisionEvents(revision, []);
        }
        else
        {
            var many = (Change[])changes;
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

    /// <summary>A change of one revision: the key's history and the change's sub-revision.</summary>
    internal readonly record struct Change(KeyHistory History, int Sub);
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

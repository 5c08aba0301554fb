using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Watch;

/// <summary>
/// One watch: a key range, filters, and a cursor (<see cref="NextRevision"/>) into the event history. A
/// watcher owns no buffer: it reads what it has not yet delivered straight from the <see cref="EventLog"/>,
/// so a slow consumer costs no memory and never blocks writers; it only falls behind, and catches up from
/// history unless that history is compacted first, in which case it is cancelled with the compact revision.
/// </summary>
public sealed class Watcher
{
    public Watcher(long id, ByteString key, ByteString rangeEnd, long nextRevision, bool prevKv, bool noPut, bool noDelete, bool progressNotify)
    {
        Id = id;
        Key = key;
        RangeEnd = rangeEnd;
        NextRevision = nextRevision;
        PrevKv = prevKv;
        NoPut = noPut;
        NoDelete = noDelete;
        ProgressNotify = progressNotify;
    }

    public long Id { get; }

    public ByteString Key { get; }

    public ByteString RangeEnd { get; }

    public bool PrevKv { get; }

    public bool NoPut { get; }

    public bool NoDelete { get; }

    public bool ProgressNotify { get; }

    /// <summary>The next revision whose events this watcher has not delivered.</summary>
    public long NextRevision { get; private set; }

    /// <summary>
    /// Collects this watcher's events from <paramref name="log"/> in (<see cref="NextRevision"/>,
    /// <paramref name="upTo"/>], at most about <paramref name="maxEvents"/>, and advances the cursor past what
    /// it read. Returns false when the needed history has been compacted. Once the events collected hold
    /// <paramref name="maxBytes"/> of keys and values, it stops at the next revision: a revision's events always
    /// stay together, so one revision may pass it.
    /// </summary>
    public bool Read(EventLog log, long upTo, int maxEvents, List<Event> into, List<RevisionEvents> scratch, long maxBytes = long.MaxValue)
    {
        scratch.Clear();
        long bytes = 0;
        while (NextRevision <= upTo && into.Count < maxEvents && bytes < maxBytes)
        {
            if (!log.Read(NextRevision, upTo, maxEvents, scratch))
            {
                return false;
            }

            if (scratch.Count == 0)
            {
                // Revisions with no retained events (e.g. compaction boundary): nothing more to read up to upTo.
                NextRevision = upTo + 1;
                break;
            }

            foreach (var revision in scratch)
            {
                if (bytes >= maxBytes)
                {
                    // The cursor stays on this revision: the next read starts with it.
                    break;
                }

                for (var i = 0; i < revision.Count; i++)
                {
                    var e = revision[i];
                    if (Matches(e))
                    {
                        var delivered = PrevKv || e.PrevKv is null ? e : new Event { Type = e.Type, Kv = e.Kv };
                        into.Add(delivered);
                        bytes += (long)delivered.Kv.Key.Length + delivered.Kv.Value.Length
                            + (delivered.PrevKv is { } prev ? (long)prev.Key.Length + prev.Value.Length : 0);
                    }
                }

                NextRevision = revision.Revision + 1;
            }

            scratch.Clear();
        }

        return true;
    }

    public bool Matches(Event e)
    {
        if (e.Type == Event.Types.EventType.Put ? NoPut : NoDelete)
        {
            return false;
        }

        return KeyOrder.InRange(e.Kv.Key, Key, RangeEnd);
    }

    /// <summary>True when the watcher has delivered everything up to <paramref name="revision"/>.</summary>
    public bool IsSyncedTo(long revision) => NextRevision > revision;
}

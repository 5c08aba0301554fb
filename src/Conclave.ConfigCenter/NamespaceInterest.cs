using System.Threading.Channels;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.ConfigCenter;

/// <summary>
/// One subscription's place in the <see cref="NamespaceChangeHub"/>: the namespace record keys it watches and the
/// changes of them not taken yet. Level-triggered: only the newest record per key is kept, and a record at or below the
/// revision the subscription already used for that key (<see cref="Seen"/>) is dropped, so a change the shared watch
/// reads late never takes a subscriber back to an older release.
/// </summary>
internal sealed class NamespaceInterest : IDisposable
{
    private readonly NamespaceChangeHub hub;
    private readonly Lock gate = new();
    private readonly HashSet<ByteString> keys = [];
    private readonly Dictionary<ByteString, long> seen = [];
    private readonly Dictionary<ByteString, KeyValue> pending = [];
    // Capacity one, a pending wake covers every later change: the pending records are taken all at once.
    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private bool resync;
    private bool disposed;

    internal NamespaceInterest(NamespaceChangeHub hub) => this.hub = hub;

    /// <summary>Starts handing over changes of <paramref name="key"/>.</summary>
    public void Watch(ByteString key)
    {
        lock (gate)
        {
            if (disposed || !keys.Add(key))
            {
                return;
            }
        }

        hub.Watch(this, key);
    }

    /// <summary>Stops handing over changes of <paramref name="key"/> and forgets those not taken.</summary>
    public void Unwatch(ByteString key)
    {
        lock (gate)
        {
            if (!keys.Remove(key))
            {
                return;
            }

            pending.Remove(key);
            seen.Remove(key);
        }

        hub.Unwatch(this, key);
    }

    /// <summary>Notes that the subscription used <paramref name="key"/>'s record as of <paramref name="modRevision"/>.</summary>
    public void Seen(ByteString key, long modRevision)
    {
        lock (gate)
        {
            if (!seen.TryGetValue(key, out var had) || had < modRevision)
            {
                seen[key] = modRevision;
            }

            if (pending.TryGetValue(key, out var kv) && kv.ModRevision <= modRevision)
            {
                pending.Remove(key);
            }
        }
    }

    /// <summary>
    /// Waits for changes and takes them: the newest record of each watched key that changed since the last take, or
    /// Resync when the shared watch lost history and every record must be read again. Empty when the watch ended.
    /// </summary>
    public async ValueTask<(IReadOnlyList<KeyValue> Changed, bool Resync, bool Ended)> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!await wake.Reader.WaitToReadAsync(cancellationToken))
            {
                return ([], false, true);
            }

            wake.Reader.TryRead(out _);
            lock (gate)
            {
                var again = resync;
                resync = false;
                var changed = pending.Values.OrderBy(kv => kv.ModRevision).ToList();
                pending.Clear();
                if (again || changed.Count > 0)
                {
                    return (changed, again, false);
                }
            }
        }
    }

    internal void Changed(KeyValue kv)
    {
        lock (gate)
        {
            if (!keys.Contains(kv.Key) || (seen.TryGetValue(kv.Key, out var had) && kv.ModRevision <= had)
                || (pending.TryGetValue(kv.Key, out var newer) && newer.ModRevision >= kv.ModRevision))
            {
                return;
            }

            pending[kv.Key] = kv;
        }

        wake.Writer.TryWrite(true);
    }

    internal void Resync()
    {
        lock (gate)
        {
            resync = true;
            pending.Clear();
        }

        wake.Writer.TryWrite(true);
    }

    internal void End(Exception? failure) => wake.Writer.TryComplete(failure);

    public void Dispose()
    {
        ByteString[] watched;
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            watched = [.. keys];
            keys.Clear();
            pending.Clear();
        }

        hub.Leave(this, watched);
        wake.Writer.TryComplete();
    }
}

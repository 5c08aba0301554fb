using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.ConfigCenter.Keyspace;
using Google.Protobuf;

namespace Conclave.ConfigCenter;

/// <summary>
/// One watch of every namespace record for all the subscriptions of a <see cref="DeliveryService"/>, handing each
/// change only to the subscriptions that named that record's key (issue 23). Before it, every subscription kept its
/// own cursor over the whole namespace prefix: each write of the system keyspace (every delivery report, every lease
/// renewal, any app's publish) woke every subscription, so a report cost member CPU in proportion to the number of
/// subscribers and a publish of one app woke the subscribers of all 5,000.
/// </summary>
/// <remarks>
/// The watch runs while at least one subscription is joined. It never blocks on a subscriber: a change marks the
/// record pending on each interested <see cref="NamespaceInterest"/> (newest record per key wins), so memory is
/// bounded by the keys watched. When the watch falls behind a compaction it continues from the current revision and
/// tells every subscription to read its records again (<see cref="NamespaceInterest.Resync"/>).
/// </remarks>
internal sealed class NamespaceChangeHub(IKeyValuePort port)
{
    private readonly Lock gate = new();
    // A set per key: 10,000 instances of one app all watch the same records, and each joins and leaves.
    private readonly Dictionary<ByteString, HashSet<NamespaceInterest>> byKey = [];
    private readonly HashSet<NamespaceInterest> members = [];
    private CancellationTokenSource? pumpStop;
    private Task<long>? started;

    /// <summary>Times any subscription was handed a change of a record it watches (tests and diagnostics).</summary>
    public long Dispatched => Interlocked.Read(ref dispatched);

    private long dispatched;

    /// <summary>
    /// Joins a new subscription. Returns once the shared watch has a start revision, so every change committed after
    /// the caller's next read reaches the interest's keys.
    /// </summary>
    public async ValueTask<NamespaceInterest> JoinAsync(CancellationToken cancellationToken)
    {
        var interest = new NamespaceInterest(this);
        Task<long> ready;
        lock (gate)
        {
            members.Add(interest);
            if (started is null || started.IsFaulted || started.IsCanceled)
            {
                pumpStop?.Cancel();
                pumpStop = new CancellationTokenSource();
                started = StartAsync(pumpStop.Token);
            }

            ready = started;
        }

        try
        {
            await ready.WaitAsync(cancellationToken);
        }
        catch
        {
            interest.Dispose();
            throw;
        }

        return interest;
    }

    internal void Watch(NamespaceInterest interest, ByteString key)
    {
        lock (gate)
        {
            if (!byKey.TryGetValue(key, out var list))
            {
                byKey[key] = list = [];
            }

            list.Add(interest);
        }
    }

    internal void Unwatch(NamespaceInterest interest, ByteString key)
    {
        lock (gate)
        {
            if (byKey.TryGetValue(key, out var list) && list.Remove(interest) && list.Count == 0)
            {
                byKey.Remove(key);
            }
        }
    }

    internal void Leave(NamespaceInterest interest, IEnumerable<ByteString> keys)
    {
        lock (gate)
        {
            foreach (var key in keys)
            {
                if (byKey.TryGetValue(key, out var list) && list.Remove(interest) && list.Count == 0)
                {
                    byKey.Remove(key);
                }
            }

            if (members.Remove(interest) && members.Count == 0)
            {
                // The last subscription left: stop the watch; the next one starts it again from a fresh revision.
                pumpStop?.Cancel();
                pumpStop = null;
                started = null;
            }
        }
    }

    private Task<long> StartAsync(CancellationToken stop)
    {
        var ready = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(() => PumpAsync(ready, stop), CancellationToken.None);
        return ready.Task;
    }

    private async Task PumpAsync(TaskCompletionSource<long> ready, CancellationToken stop)
    {
        long from;
        try
        {
            from = await CurrentRevisionAsync(stop) + 1;
            ready.TrySetResult(from - 1);
        }
        catch (Exception e)
        {
            ready.TrySetException(e);
            return;
        }

        Exception? failure = null;
        try
        {
            while (true)
            {
                try
                {
                    await foreach (var change in port.WatchAsync(ConfigKeys.AllNamespaces(), from, stop))
                    {
                        foreach (var e in change.Events)
                        {
                            if (e.Type == Event.Types.EventType.Put)
                            {
                                Dispatch(e.Kv);
                            }
                        }

                        from = change.Revision + 1;
                    }

                    break;
                }
                catch (KeyspaceCompactedException)
                {
                    // History we had not read is gone: go on from now, and have every subscription read its records again.
                    from = await CurrentRevisionAsync(stop) + 1;
                    NamespaceInterest[] all;
                    lock (gate)
                    {
                        all = [.. members];
                    }

                    foreach (var interest in all)
                    {
                        interest.Resync();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            failure = e;
        }

        // The watch ended (the member is stopping) or failed: every subscription ends with it, as its own watch did.
        NamespaceInterest[] left;
        lock (gate)
        {
            left = [.. members];
            if (started == ready.Task)
            {
                started = null;
                pumpStop = null;
            }
        }

        foreach (var interest in left)
        {
            interest.End(failure);
        }
    }

    private void Dispatch(KeyValue kv)
    {
        NamespaceInterest[] interested;
        lock (gate)
        {
            if (!byKey.TryGetValue(kv.Key, out var list))
            {
                return;
            }

            interested = [.. list];
        }

        foreach (var interest in interested)
        {
            Interlocked.Increment(ref dispatched);
            interest.Changed(kv);
        }
    }

    private async ValueTask<long> CurrentRevisionAsync(CancellationToken cancellationToken) =>
        (await port.RangeAsync(new RangeRequest { Key = ConfigKeys.Settings() }, cancellationToken)).Header.Revision;
}

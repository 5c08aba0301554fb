using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Gray;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Node;
using Google.Protobuf;

namespace Conclave.Server.Config;

/// <summary>
/// The console's live delivery view of a namespace: a snapshot (from the center's own convergence and instance
/// queries), then a fresh snapshot after each change the store's watch reports on the namespace record or its
/// instance records. Changes that arrive while a snapshot is being built are folded into the next one.
/// </summary>
public sealed class DeliveryFeed(ConfigCenterService center, DeliveryService delivery, IKeyValuePort port, ConclaveNode node)
{
    /// <summary>Most instances listed in one snapshot; the counts always cover all of them.</summary>
    public const int MaxInstances = 500;

    public async ValueTask<DeliverySnapshot> SnapshotAsync(string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        var n = await center.GetNamespaceAsync(app, env, ns, cancellationToken);
        var convergence = await delivery.ConvergenceAsync(app, env, ns, n.HeadReleaseId, cancellationToken);
        var instances = (await delivery.InstancesAsync(app, env, ns, cancellationToken))
            .Select(i => new InstanceView(i.InstanceId, i.Labels, i.ReleaseId, i.Status, i.Reason, i.ReportedAt, i.From,
                n.Gray is { } g && GrayCohort.Matches(g.Rule, app, ns, i.InstanceId, i.Labels)))
            .OrderBy(i => i.InstanceId, StringComparer.Ordinal)
            .ToList();
        var cohort = instances.Where(i => i.InGray).ToList();
        return new DeliverySnapshot(
            app, env, ns, n.HeadReleaseId, n.Gray, convergence.Instances, convergence.Applied, convergence.Rejected.Count, convergence.ByRelease,
            cohort.Count, n.Gray is { } gray ? cohort.Count(i => i.Status == DeliveryStatus.Applied && i.ReleaseId == gray.ReleaseId) : 0,
            instances.Take(MaxInstances).ToList(), instances.Count > MaxInstances);
    }

    /// <summary>
    /// Reads the first snapshot now (so a missing namespace is refused before the stream starts), and returns a
    /// stream of it followed by one snapshot after every change, until <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async ValueTask<IAsyncEnumerable<SseItem<DeliverySnapshot>>> OpenAsync(string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        // Watch from the revision before the first read: a change racing with it costs one extra snapshot, never a missed one.
        var from = node.Store.SystemKeyspace.Revision + 1;
        var first = await SnapshotAsync(app, env, ns, cancellationToken);
        return StreamAsync(app, env, ns, first, from, cancellationToken);
    }

    private async IAsyncEnumerable<SseItem<DeliverySnapshot>> StreamAsync(string app, string env, string ns, DeliverySnapshot first, long from, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return Item(first);

        // Capacity one, newest wins: a pending "something changed" already covers any later change, because
        // every snapshot re-reads the whole state. Memory stays bounded however fast instances report.
        var dirty = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var nsKey = ConfigKeys.Namespace(app, env, ns);
        var pumps = Task.WhenAll(
            PumpAsync(ConfigKeys.Instances(app, env, ns), null, from, dirty.Writer, stop.Token),
            PumpAsync(nsKey, nsKey, from, dirty.Writer, stop.Token));
        _ = pumps.ContinueWith(t => dirty.Writer.TryComplete(t.Exception?.GetBaseException()), TaskScheduler.Default);
        try
        {
            while (await dirty.Reader.WaitToReadAsync(cancellationToken))
            {
                dirty.Reader.TryRead(out _);
                yield return Item(await SnapshotAsync(app, env, ns, cancellationToken));
            }
        }
        finally
        {
            await stop.CancelAsync();
        }
    }

    private async Task PumpAsync(ByteString prefix, ByteString? exactKey, long from, ChannelWriter<long> dirty, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var change in port.WatchAsync(prefix, from, cancellationToken))
            {
                // The namespace key is also a prefix of longer namespace names: only its own record counts.
                if (exactKey is null || change.Events.Any(e => e.Kv.Key == exactKey))
                {
                    dirty.TryWrite(change.Revision);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static SseItem<DeliverySnapshot> Item(DeliverySnapshot snapshot) => new(snapshot, "delivery");
}

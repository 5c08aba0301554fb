using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// A subscription is handed only the records it needs (issue 23 item 5): its own namespaces and the public namespaces
/// they associate, through the delivery service's one shared watch, without losing a release meant for it.
/// </summary>
public sealed class SubscriptionScopeTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private ConfigCenterService Center => fixture.Center;

    private LocalKeyValuePort Port() => fixture.NewPort();

    [Fact]
    public async Task A_subscriber_of_one_app_is_handed_nothing_when_another_app_publishes()
    {
        var a = await fixture.NewAppAsync();
        var b = await fixture.NewAppAsync();
        foreach (var app in new[] { a, b })
        {
            await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
            await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("k", "0"), 0, Alice);
            await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);
        }

        // Its own delivery service, so the count is this subscription's alone.
        var delivery = new DeliveryService(Port());
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        await using var stream = delivery.SubscribeAsync(a, "DEV", ["application"], "pod-a", [], new Dictionary<string, long>(), cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(1, stream.Current.Release.Id);
        var before = delivery.SubscriptionWakeups;

        var next = stream.MoveNextAsync();
        for (var i = 1; i <= 5; i++)
        {
            await Center.SetItemAsync(b, "DEV", "application", new ConfigItem("k", $"{i}"), 0, Alice);
            await Center.PublishAsync(b, "DEV", "application", null, null, 0, Alice);
            await delivery.ReportAsync(b, "DEV", "application", "pod-b", [], i + 1, DeliveryStatus.Applied, null, null);
        }

        Assert.False(next.IsCompleted);
        // App A's publish comes after all of B's changes in revision order, so once it arrives B's were seen too.
        await Center.SetItemAsync(a, "DEV", "application", new ConfigItem("k", "1"), 0, Alice);
        await Center.PublishAsync(a, "DEV", "application", null, null, 0, Alice);
        Assert.True(await next);
        Assert.Equal(a, stream.Current.Release.App);
        Assert.Equal(2, stream.Current.Release.Id);
        // A's edit and publish wrote A's namespace record at most twice; B's ten record writes handed it nothing.
        Assert.InRange(delivery.SubscriptionWakeups - before, 1, 2);
    }

    [Fact]
    public async Task Many_subscriptions_of_one_namespace_decode_each_version_of_its_record_once()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        var document = "{\"flags\": {" + string.Join(", ", Enumerable.Range(0, 50).Select(i => $"\"f{i}\": {{\"type\": \"boolean\", \"defaultVariant\": \"off\"}}")) + "}}";
        await Center.SetContentAsync(app, "DEV", "flags", document, 0, Alice);
        await Center.PublishAsync(app, "DEV", "flags", null, null, 0, Alice);

        var delivery = new DeliveryService(Port());
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        var streams = new List<IAsyncEnumerator<EffectiveRelease>>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                var stream = delivery.SubscribeAsync(app, "DEV", ["flags"], $"pod-{i}", [], new Dictionary<string, long>(), cts.Token).GetAsyncEnumerator(cts.Token);
                streams.Add(stream);
                Assert.True(await stream.MoveNextAsync());
            }

            // The 50 first reads found one version of the record: decoded once.
            Assert.Equal(1, delivery.NamespaceRecordsDecoded);
            var next = streams.Select(s => s.MoveNextAsync().AsTask()).ToList();
            await Center.PublishAsync(app, "DEV", "flags", "again", null, 0, Alice);
            Assert.All(await Task.WhenAll(next), Assert.True);
            Assert.All(streams, s => Assert.Equal(2, s.Current.Release.Id));
            Assert.Equal(2, delivery.NamespaceRecordsDecoded);
        }
        finally
        {
            await cts.CancelAsync();
            foreach (var stream in streams)
            {
                try
                {
                    await stream.DisposeAsync();
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    [Fact]
    public async Task An_association_made_while_subscribed_brings_the_new_base_and_drops_the_old()
    {
        var first = await fixture.NewAppAsync();
        var second = await fixture.NewAppAsync();
        var service = await fixture.NewAppAsync();
        foreach (var (app, value) in new[] { (first, "first"), (second, "second") })
        {
            await Center.CreateNamespaceAsync(app, "DEV", "shared", NamespaceFormat.Properties, null, isPublic: true, secret: false, Alice);
            await Center.SetItemAsync(app, "DEV", "shared", new ConfigItem("from", value), 0, Alice);
            await Center.PublishAsync(app, "DEV", "shared", null, null, 0, Alice);
        }

        // A second release of the second base, so the combined ids differ: the id names release numbers, not the base app.
        await Center.SetItemAsync(second, "DEV", "shared", new ConfigItem("from", "second"), 0, Alice);
        await Center.SetItemAsync(second, "DEV", "shared", new ConfigItem("extra", "x"), 0, Alice);
        await Center.PublishAsync(second, "DEV", "shared", null, null, 0, Alice);
        var associations = new PublicNamespaceService(Port());
        await associations.AssociateNamespaceAsync(service, "DEV", "shared", first, Alice);
        var delivery = new DeliveryService(Port());
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        await using var stream = delivery.SubscribeAsync(service, "DEV", ["shared"], "pod-1", [], new Dictionary<string, long>(), cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal("first", stream.Current.Release.Configurations["from"]);

        // The association is removed and made again on another base while the subscription runs.
        await fixture.Removal.DeleteNamespaceAsync(service, "DEV", "shared", force: true, 0, Alice);
        await associations.AssociateNamespaceAsync(service, "DEV", "shared", second, Alice);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal("second", stream.Current.Release.Configurations["from"]);
        Assert.Equal(AssociatedRelease.Id(2, 0), stream.Current.Release.Id);

        // The old base's releases no longer concern it; the new base's do.
        var next = stream.MoveNextAsync();
        await Center.SetItemAsync(first, "DEV", "shared", new ConfigItem("from", "first again"), 0, Alice);
        await Center.PublishAsync(first, "DEV", "shared", null, null, 0, Alice);
        await Center.SetItemAsync(second, "DEV", "shared", new ConfigItem("from", "second again"), 0, Alice);
        await Center.PublishAsync(second, "DEV", "shared", null, null, 0, Alice);
        Assert.True(await next);
        Assert.Equal("second again", stream.Current.Release.Configurations["from"]);
        Assert.Equal(AssociatedRelease.Id(3, 0), stream.Current.Release.Id);
    }

    [Fact]
    public async Task A_release_published_while_the_shared_watch_lost_history_still_reaches_the_subscriber()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("k", "0"), 0, Alice);
        await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);

        var port = new CompactingPort(Port());
        var delivery = new DeliveryService(port);
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        await using var stream = delivery.SubscribeAsync(app, "DEV", ["application"], "pod-1", [], new Dictionary<string, long>(), cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(1, stream.Current.Release.Id);

        // The publish never reaches the watch (its history is "compacted" before the watch reads it).
        port.DropEvents = true;
        var next = stream.MoveNextAsync();
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("k", "1"), 0, Alice);
        await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);
        port.Compact();
        Assert.True(await next);
        Assert.Equal(2, stream.Current.Release.Id);
        Assert.Equal("1", stream.Current.Release.Configurations["k"]);
    }

    [Fact]
    public async Task Subscriptions_of_many_apps_each_converge_to_their_own_release()
    {
        var apps = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var app = await fixture.NewAppAsync();
            await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
            await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("app", app), 0, Alice);
            await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);
            apps.Add(app);
        }

        var delivery = new DeliveryService(Port());
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        var latest = new Dictionary<string, EffectiveRelease>();
        var streams = apps.Select(app => Collect(app)).ToList();
        await Eventually.WaitAsync(_ => Task.FromResult(Snapshot().Count == apps.Count), Eventually.DefaultTimeout, "every subscription's first release");
        foreach (var app in apps.Where((_, i) => i % 2 == 0))
        {
            await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("round", "2"), 0, Alice);
            await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);
        }

        await Eventually.WaitAsync(_ => Task.FromResult(apps.Where((_, i) => i % 2 == 0).All(a => Snapshot()[a].Release.Id == 2)), Eventually.DefaultTimeout, "the second release of every even app");
        var seen = Snapshot();
        foreach (var (app, i) in apps.Select((a, i) => (a, i)))
        {
            Assert.Equal(app, seen[app].Release.Configurations["app"]);
            Assert.Equal(i % 2 == 0 ? 2 : 1, seen[app].Release.Id);
        }

        await cts.CancelAsync();
        await Task.WhenAll(streams);

        Dictionary<string, EffectiveRelease> Snapshot()
        {
            lock (latest)
            {
                return new Dictionary<string, EffectiveRelease>(latest);
            }
        }

        async Task Collect(string app)
        {
            try
            {
                await foreach (var e in delivery.SubscribeAsync(app, "DEV", ["application"], "pod", [], new Dictionary<string, long>(), cts.Token))
                {
                    Assert.Equal(app, e.Release.App);
                    lock (latest)
                    {
                        latest[app] = e;
                    }
                }
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>A port whose watches can be made to lose events and then fail as a compacted watch does.</summary>
    private sealed class CompactingPort(IKeyValuePort inner) : IKeyValuePort
    {
        private CancellationTokenSource compaction = new();

        public volatile bool DropEvents;

        public void Compact()
        {
            var old = compaction;
            compaction = new CancellationTokenSource();
            DropEvents = false;
            old.Cancel();
        }

        public ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default) => inner.RangeAsync(request, cancellationToken);

        public ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default) => inner.TxnAsync(request, cancellationToken);

        public ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default) => inner.GrantLeaseAsync(ttlSeconds, cancellationToken);

        public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default) => inner.KeepAliveAsync(leaseId, cancellationToken);

        public async IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var compacted = compaction.Token;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, compacted);
            await using var changes = inner.WatchAsync(prefix, fromRevision, linked.Token).GetAsyncEnumerator(linked.Token);
            while (true)
            {
                try
                {
                    if (!await changes.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (OperationCanceledException) when (compacted.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new KeyspaceCompactedException(fromRevision + 1);
                }

                if (!DropEvents)
                {
                    yield return changes.Current;
                }
            }
        }
    }
}

using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The cost of a delivery report (issue 23 item 4): an instance that reported through this member before is recorded
/// with one write and no read, and the shortcut never records a report for a namespace that is gone.
/// </summary>
public sealed class ReportPathTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private LocalKeyValuePort Port() => fixture.NewPort();

    [Fact]
    public async Task A_repeated_report_is_one_write_and_no_read_and_keeps_its_lease()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        var port = new CountingPort(Port());
        var delivery = new DeliveryService(port);

        var first = await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Applied, null, null);
        var (readsBefore, writesBefore) = (port.Ranges, port.Txns);
        var second = await delivery.ReportAsync(app, "DEV", "application", "pod-1", ["zone=a"], 2, DeliveryStatus.Applied, null, null);

        Assert.Equal(0, port.Ranges - readsBefore);
        Assert.Equal(1, port.Txns - writesBefore);
        Assert.Equal(first.LeaseId, second.LeaseId);
        var listed = Assert.Single(await delivery.InstancesAsync(app, "DEV", "application"));
        Assert.Equal(2, listed.ReleaseId);
        Assert.Equal(["zone=a"], listed.Labels);

        // A rejection still reads the record: it is audited once per instance and release.
        await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 2, DeliveryStatus.Rejected, "bad", null);
        await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 2, DeliveryStatus.Rejected, "bad", null);
        Assert.Single(await fixture.Center.AuditAsync(app), a => a.Action == "instance.reject");
    }

    [Fact]
    public async Task A_known_instance_reporting_for_a_deleted_namespace_is_refused_and_leaves_no_record()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        var delivery = new DeliveryService(Port());
        await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Applied, null, null);

        await fixture.Removal.DeleteNamespaceAsync(app, "DEV", "application", force: true, 0, Alice);
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(async () => await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 2, DeliveryStatus.Applied, null, null));
        Assert.Equal(ConfigErrorKind.NotFound, refused.Kind);

        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        Assert.Empty(await delivery.InstancesAsync(app, "DEV", "application"));
        await delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Applied, null, null);
        Assert.Equal(1, Assert.Single(await delivery.InstancesAsync(app, "DEV", "application")).ReleaseId);
    }

    private sealed class CountingPort(IKeyValuePort inner) : IKeyValuePort
    {
        private long ranges;
        private long txns;

        public long Ranges => Interlocked.Read(ref ranges);

        public long Txns => Interlocked.Read(ref txns);

        public ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref ranges);
            return inner.RangeAsync(request, cancellationToken);
        }

        public ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref txns);
            return inner.TxnAsync(request, cancellationToken);
        }

        public IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, CancellationToken cancellationToken = default) =>
            inner.WatchAsync(prefix, fromRevision, cancellationToken);

        public ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default) => inner.GrantLeaseAsync(ttlSeconds, cancellationToken);

        public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default) => inner.KeepAliveAsync(leaseId, cancellationToken);
    }
}

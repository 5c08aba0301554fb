using Conclave.Api.Etcd;
using Grpc.Core;
using Grpc.Net.Client;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Cluster;

/// <summary>
/// The NOSPACE alarm on a 3-member cluster is replicated state like any other: the member that served the refused
/// write raises it through the log, naming itself, so every member lists the same alarm and holds byte-for-byte the
/// same snapshot; disarming it through any member clears it everywhere.
/// </summary>
public sealed class QuotaAlarmTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string NoSpace = "etcdserver: mvcc: database space exceeded";
    private TestCluster cluster = null!;

    public async Task InitializeAsync() => cluster = await TestCluster.StartAsync(3, output, o => o with { QuotaBackendBytes = 64 * 1024 });

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task Every_member_lists_the_same_alarm_and_holds_the_same_snapshot_once_a_follower_hits_the_quota()
    {
        var follower = await cluster.FollowerAsync();
        var followerId = cluster[follower].Node.Consensus.Status.MemberId;
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[follower]);
        var kv = new KV.KVClient(channel);
        var value = new string('q', 1024);

        Status? refused = null;
        var written = 0;
        for (var i = 0; i < 1000 && refused is null; i++)
        {
            try
            {
                await PutAsync(kv, $"quota/{i:D4}", value);
                written++;
            }
            catch (RpcException e)
            {
                refused = e.Status;
            }
        }

        output.WriteLine($"{written} puts of 1 KiB were accepted through the follower before the quota refused one");
        Assert.NotNull(refused);
        Assert.Equal(StatusCode.ResourceExhausted, refused.Value.StatusCode);
        Assert.Equal(NoSpace, refused.Value.Detail);

        // The member that served the write raised the alarm before answering, as etcd does.
        var onFollower = await Etcdctl.RunAsync(cluster.Endpoints[follower], "alarm", "list");
        Assert.Equal([$"memberID:{followerId} alarm:NOSPACE"], onFollower.Lines.Select(static l => l.TrimEnd()));

        var (alarms, snapshots) = await QuietStateAsync();
        for (var i = 0; i < cluster.Count; i++)
        {
            output.WriteLine($"member {i}: alarm list [{string.Join(" | ", alarms[i])}], snapshot {snapshots[i].Length} bytes");
        }

        for (var i = 1; i < cluster.Count; i++)
        {
            Assert.Equal(alarms[0], alarms[i]);
            Assert.True(snapshots[0].AsSpan().SequenceEqual(snapshots[i]), $"member {i}'s snapshot differs from member 0's");
        }

        Assert.Equal([$"memberID:{followerId} alarm:NOSPACE"], alarms[0]);

        // etcd's recovery procedure through another member: delete, compact, disarm; then writes go in everywhere.
        var other = Enumerable.Range(0, cluster.Count).First(i => i != follower);
        var deleted = await Etcdctl.RunAsync(cluster.Endpoints[other], "del", "quota/", "--prefix");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        var revision = cluster[other].Node.Store.Revision;
        var compacted = await Etcdctl.RunAsync(cluster.Endpoints[other], "compaction", $"{revision}");
        Assert.True(compacted.ExitCode == 0, compacted.ToString());
        var disarm = await Etcdctl.RunAsync(cluster.Endpoints[other], "alarm", "disarm");
        Assert.True(disarm.ExitCode == 0, disarm.ToString());
        Assert.Equal([$"memberID:{followerId} alarm:NOSPACE"], disarm.Lines.Select(static l => l.TrimEnd()));
        var again = await Etcdctl.RunAsync(cluster.Endpoints[follower], "put", "quota/again", "ok");
        Assert.True(again.ExitCode == 0, again.ToString());
        var (cleared, _) = await QuietStateAsync();
        Assert.All(cleared, Assert.Empty);
    }

    /// <summary>
    /// Once every member has applied the same log index (and still has after the reads): each member's
    /// <c>etcdctl alarm list</c> lines and Maintenance.Snapshot bytes.
    /// </summary>
    private async Task<(string[][] Alarms, byte[][] Snapshots)> QuietStateAsync()
    {
        string[][] alarms = [];
        byte[][] snapshots = [];
        await Eventually.WaitAsync(
            async ct =>
            {
                var before = AppliedIndexes();
                if (before.Distinct().Count() != 1)
                {
                    return false;
                }

                alarms = await Task.WhenAll(Enumerable.Range(0, cluster.Count).Select(async i =>
                    (await Etcdctl.RunAsync(cluster.Endpoints[i], ["alarm", "list"], stdin: null, cancellationToken: ct)).Lines.Select(static l => l.TrimEnd()).Where(static l => l.Length > 0).ToArray()));
                snapshots = await Task.WhenAll(Enumerable.Range(0, cluster.Count).Select(i => SnapshotAsync(i, ct)));
                return AppliedIndexes().SequenceEqual(before);
            },
            Eventually.DefaultTimeout,
            "every member applied the same index while its alarms and snapshot were read");
        return (alarms, snapshots);
    }

    private long[] AppliedIndexes() => [.. Enumerable.Range(0, cluster.Count).Select(i => cluster[i].Node.Store.AppliedIndex)];

    private async Task<byte[]> SnapshotAsync(int member, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[member]);
        using var call = new Maintenance.MaintenanceClient(channel).Snapshot(new SnapshotRequest(), cancellationToken: cancellationToken);
        using var image = new MemoryStream();
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            call.ResponseStream.Current.Blob.WriteTo(image);
        }

        return image.ToArray();
    }
}

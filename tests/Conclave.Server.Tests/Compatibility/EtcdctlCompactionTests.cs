using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>Compaction and what etcdctl prints for reads and watches of compacted revisions (own node: compaction is global).</summary>
public sealed class EtcdctlCompactionTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const string Compacted = "etcdserver: mvcc: required revision has been compacted";

    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Get_rev_of_a_compacted_revision_fails_with_etcds_error()
    {
        var key = Keys.Unique("compact");
        var first = await Etcd.PutAsync(Endpoint, key, "v1");
        var second = await Etcd.PutAsync(Endpoint, key, "v2");
        await Etcd.PutAsync(Endpoint, key, "v3");

        var compaction = await Etcdctl.RunAsync(Endpoint, "compaction", $"{second}");
        var compactedRead = await Etcdctl.RunAsync(Endpoint, "get", key, $"--rev={first}");
        var atCompaction = await Etcdctl.RunAsync(Endpoint, "get", key, $"--rev={second}");
        var latest = await Etcdctl.RunAsync(Endpoint, "get", key);

        Assert.Equal([$"compacted revision {second}"], compaction.Lines);
        Assert.NotEqual(0, compactedRead.ExitCode);
        Assert.Contains($"Error: {Compacted}", compactedRead.Stderr, StringComparison.Ordinal);
        Assert.Equal([key, "v2"], atCompaction.Lines);
        Assert.Equal([key, "v3"], latest.Lines);
    }

    [Fact]
    public async Task Compacting_an_already_compacted_revision_fails()
    {
        var key = Keys.Unique("recompact");
        var rev = await Etcd.PutAsync(Endpoint, key, "v");
        await Etcdctl.RunAsync(Endpoint, "compaction", $"{rev}");

        var again = await Etcdctl.RunAsync(Endpoint, "compaction", $"{rev}");

        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains($"Error: {Compacted}", again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compacting_a_future_revision_fails()
    {
        var rev = await Etcd.RevisionAsync(Endpoint);

        var future = await Etcdctl.RunAsync(Endpoint, "compaction", $"{rev + 1000}");

        Assert.NotEqual(0, future.ExitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision is a future revision", future.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_rev_below_the_compaction_is_canceled_with_the_compacted_error()
    {
        var key = Keys.Unique("wcompact");
        var first = await Etcd.PutAsync(Endpoint, key, "v1");
        var second = await Etcd.PutAsync(Endpoint, key, "v2");
        (await Etcdctl.RunAsync(Endpoint, "compaction", $"{second}")).EnsureSuccess();

        await using var watch = Etcdctl.Start(Endpoint, "watch", key, $"--rev={first}");
        var exitCode = await watch.WaitForExitAsync(TimeSpan.FromSeconds(20));

        Assert.NotEqual(0, exitCode);
        // etcdctl 3.4 prints the cancellation on stderr.
        Assert.Contains($"watch was canceled ({Compacted})", watch.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("v1", watch.Lines);
    }
}

using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Durability;

/// <summary>After SIGKILL and restart the member has the same history: deletes, compaction and revisions, from the log or a snapshot.</summary>
public sealed class RecoveredStateTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(10_000)] // restart replays the whole log
    [InlineData(3)] // restart loads a snapshot taken after the compaction, then the log tail
    public async Task Compaction_deletes_and_revisions_survive_sigkill(int snapshotCount)
    {
        using var directory = TempDirectory.Create("conclave-recovered-");
        await using var node = await NodeProcess.StartAsync(directory.Combine("data"), new NodeProcessOptions { ExtraArguments = ["--snapshot-count", $"{snapshotCount}"] });
        var key = Keys.Unique("kept");
        var gone = Keys.Unique("gone");
        var first = await Etcd.PutAsync(node.Endpoint, key, "v1");
        var second = await Etcd.PutAsync(node.Endpoint, key, "v2");
        var goneRevision = await Etcd.PutAsync(node.Endpoint, gone, "x");
        (await Etcdctl.RunAsync(node.Endpoint, "del", gone)).EnsureSuccess();
        (await Etcdctl.RunAsync(node.Endpoint, "compaction", $"{second}")).EnsureSuccess();
        for (var i = 0; i < 4; i++)
        {
            await Etcd.PutAsync(node.Endpoint, $"{key}/tail{i}", "t");
        }

        var before = await Etcd.RevisionAsync(node.Endpoint);

        node.Kill();
        await node.RestartAsync();

        try
        {
            var after = await Etcd.RevisionAsync(node.Endpoint);
            var compacted = await Etcdctl.RunAsync(node.Endpoint, "get", key, $"--rev={first}");
            var atCompaction = await Etcdctl.RunAsync(node.Endpoint, "get", key, $"--rev={second}");
            var deleted = await Etcdctl.RunAsync(node.Endpoint, "get", gone);
            var beforeDelete = await Etcdctl.RunAsync(node.Endpoint, "get", gone, $"--rev={goneRevision}");
            var recompact = await Etcdctl.RunAsync(node.Endpoint, "compaction", $"{second}");
            var next = await Etcd.PutAsync(node.Endpoint, key, "v3");
            var snapshots = Directory.EnumerateFiles(directory.Combine("data", "snap"), "*.snap").Select(Path.GetFileName).ToList();
            output.WriteLine($"snapshot-count {snapshotCount}: revision {before} before the kill, {after} after; snapshots: {string.Join(", ", snapshots)}");

            Assert.Equal(before, after);
            Assert.NotEqual(0, compacted.ExitCode);
            Assert.Contains("etcdserver: mvcc: required revision has been compacted", compacted.Stderr, StringComparison.Ordinal);
            Assert.Equal([key, "v2"], atCompaction.Lines);
            Assert.Equal("", deleted.Stdout);
            Assert.Equal([gone, "x"], beforeDelete.Lines);
            Assert.NotEqual(0, recompact.ExitCode);
            Assert.Equal(before + 1, next);
            if (snapshotCount < 10)
            {
                Assert.NotEmpty(snapshots);
            }
        }
        catch
        {
            output.WriteLine("--- conclave log ---\n" + node.ReadLog());
            throw;
        }
    }
}

using Conclave.Client;

namespace Conclave.Cli.Tests.Snapshot;

/// <summary>
/// Backup and restore as an operator does it, with real member processes and the real <c>conclave</c> tool: a
/// 3-member cluster holding keys with history, a lease with a key, a user and a role and configuration-center data is
/// saved with <c>conclave snapshot save</c>, destroyed (every member killed, every data directory deleted), and a new
/// cluster (new names, new ports) is restored from the file with <c>conclave snapshot restore</c>. The new cluster must
/// hold the same revisions, history, lease, auth store and releases, and go on from there.
/// </summary>
public sealed class DisasterRecoveryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_destroyed_cluster_comes_back_from_its_snapshot_with_keys_revisions_leases_users_and_releases()
    {
        using var backups = TempDirectory.Create("conclave-backup-");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = timeout.Token;
        var file = backups.Combine("backup.db");
        var target = new ConfigTarget { App = "shop", Environment = "PRO", Namespaces = ["application"] };

        long revision, leaseId, counterModRevision, counterCreateRevision, counterVersion;
        IReadOnlyList<KeyValueEntry> before;
        ConfigRelease release;
        await using (var old = await ProcessCluster.StartAsync(3, output, cancellationToken: ct))
        {
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = old.Endpoints });
            var api = old[0].HttpUrl;
            var at = new[] { "--api", api, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application" };
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "app", "create", "shop", "--owner", "team-shop");
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "env", "create", "PRO", "--app", "shop");
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "ns", "create", "application", "-a", "shop", "-e", "PRO");
            await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "port", "8080"]);
            await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "timeout", "30s"]);
            await ConclaveTool.OkAsync(output, ["config", .. at, "release", "publish", "-t", "first"]);

            for (var i = 0; i < 5; i++)
            {
                await client.PutAsync("counter", $"v{i}", cancellationToken: ct);
            }

            await client.PutAsync("other", "x", cancellationToken: ct);
            await client.PutAsync("gone", "soon", cancellationToken: ct);
            await client.DeleteAsync("gone", cancellationToken: ct);
            leaseId = (await client.LeaseGrantAsync(3600, cancellationToken: ct)).Id;
            await client.PutAsync("leased", "held", new PutOptions { Lease = leaseId }, ct);
            (await Etcdctl.RunAsync(old[0].Endpoint, "role", "add", "reader")).EnsureSuccess();
            (await Etcdctl.RunAsync(old[0].Endpoint, "user", "add", "alice:secret-pw")).EnsureSuccess();
            (await Etcdctl.RunAsync(old[0].Endpoint, "user", "grant-role", "alice", "reader")).EnsureSuccess();

            release = Assert.Single(await client.FetchConfigAsync(target, ct));
            var counter = (await client.GetAsync("counter", cancellationToken: ct)).First!;
            (counterModRevision, counterCreateRevision, counterVersion) = (counter.ModRevision, counter.CreateRevision, counter.Version);
            var all = await client.GetAsync("\0", new GetOptions { FromKey = true }, ct);
            (revision, before) = (all.Revision, all.Kvs);

            var saved = await ConclaveTool.OkAsync(output, "snapshot", "save", file, "--endpoints", string.Join(',', old.Endpoints));
            Assert.Contains($"revision {revision}", saved, StringComparison.Ordinal);
            Assert.False(File.Exists(file + ".part"));

            // The disaster: every member gone with its data.
            for (var i = 0; i < old.Count; i++)
            {
                old[i].Kill();
                foreach (var entry in Directory.EnumerateFileSystemEntries(old[i].DataDirectory).Where(e => Path.GetFileName(e) != NodeProcess.LogFileName))
                {
                    TempDirectory.DeleteQuietly(entry);
                }
            }
        }

        var status = await ConclaveTool.OkAsync(output, "snapshot", "status", file, "-w", "json");
        Assert.Contains($"\"revision\":{revision}", status, StringComparison.Ordinal);

        // A new cluster: other names, other ports, each member restored from the same file.
        var names = new[] { "r1", "r2", "r3" };
        var ports = FreePorts.Take(9);
        var initialCluster = string.Join(',', names.Select((n, i) => $"{n}=http://127.0.0.1:{ports[(i * 3) + 2]}"));
        foreach (var (name, i) in names.Select((n, i) => (n, i)))
        {
            await ConclaveTool.OkAsync(output, "snapshot", "restore", file, "--data-dir", backups.Combine(name), "--name", name,
                "--initial-cluster", initialCluster, "--initial-advertise-peer-urls", $"http://127.0.0.1:{ports[(i * 3) + 2]}", "--initial-cluster-token", "restored");
        }

        var members = new List<NodeProcess>();
        try
        {
            foreach (var (name, i) in names.Select((n, i) => (n, i)))
            {
                members.Add(await NodeProcess.StartOnPortsAsync(backups.Combine(name), ports[(i * 3)..((i * 3) + 3)], new NodeProcessOptions
                {
                    Name = name,
                    Output = output,
                    ExtraArguments = ["--initial-cluster", initialCluster, "--initial-cluster-state", "new"],
                }, waitForHealth: false, ct));
            }

            await Task.WhenAll(members.Select(m => m.WaitUntilHealthyAsync(ct)));
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [.. members.Select(static m => m.Endpoint)] });

            // The membership is the new one, never the old.
            var list = await client.MemberListAsync(ct);
            Assert.Equal(names, list.Select(static m => m.Name).Order());

            // Every member holds the same keys at the same revision, history included.
            foreach (var member in members)
            {
                await using var one = new ConclaveClient(new ConclaveClientOptions { Endpoints = [member.Endpoint] });
                var all = await one.GetAsync("\0", new GetOptions { FromKey = true, Serializable = true }, ct);
                Assert.Equal(revision, all.Revision);
                Assert.Equal(before.Select(Describe), all.Kvs.Select(Describe));
            }

            var counter = (await client.GetAsync("counter", cancellationToken: ct)).First!;
            Assert.Equal((counterModRevision, counterCreateRevision, counterVersion), (counter.ModRevision, counter.CreateRevision, counter.Version));
            Assert.Equal("v2", (await client.GetAsync("counter", new GetOptions { Revision = counterModRevision - 2 }, ct)).First!.ValueString);

            // The lease is there with its key and its time.
            var lease = await client.LeaseTimeToLiveAsync(leaseId, keys: true, ct);
            Assert.True(lease.Exists, "the lease was not restored");
            Assert.Equal(3600, lease.GrantedTtl);
            Assert.InRange(lease.Ttl, 1, 3600);
            Assert.Equal("leased", Assert.Single(lease.Keys).ToStringUtf8());

            // The auth store: the user and the role.
            var users = (await Etcdctl.RunAsync(members[0].Endpoint, "user", "get", "alice")).EnsureSuccess();
            Assert.Contains("reader", users.Stdout, StringComparison.Ordinal);

            // The configuration center serves the same release.
            var restored = Assert.Single(await client.FetchConfigAsync(target, ct));
            Assert.Equal((release.ReleaseId, release.ContentHash, release.Title), (restored.ReleaseId, restored.ContentHash, restored.Title));
            Assert.Equal(release.Configurations, restored.Configurations);

            // And the cluster goes on from the snapshot's revision: writes, a new release.
            var put = await client.PutAsync("after", "restore", cancellationToken: ct);
            Assert.Equal(revision + 1, put.Revision);
            var api = members[1].HttpUrl;
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application", "item", "set", "port", "9090");
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application", "release", "publish", "-t", "after");
            await Eventually.WaitAsync(
                async c => (await client.FetchConfigAsync(target, c)) is [{ } r] && r.ReleaseId > release.ReleaseId && r.Configurations["port"] == "9090",
                Deadline, "a release published after the restore", ct);
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    private static string Describe(KeyValueEntry kv) =>
        $"{kv.KeyString}={kv.ValueString} create {kv.CreateRevision} mod {kv.ModRevision} version {kv.Version} lease {kv.Lease}";
}

using Conclave.Cli.Tests.Snapshot;
using Conclave.Client;

namespace Conclave.Cli.Tests.Upgrades;

/// <summary>
/// Every checked-in data directory (<c>tests/fixtures/data-dir-format-*.tar.gz</c>, written by an earlier build) opens
/// in this build with all its data: revisions, history, the compaction, the lease, the auth store and the configuration
/// center's release. These tests must keep passing in every later build (docs/upgrades.md); a new data directory
/// format adds its own fixture with <see cref="Writes_a_fixture_when_asked"/> and keeps the old ones.
/// </summary>
public sealed class DataDirectoryFixtureTests(ITestOutputHelper output)
{
    /// <summary>Set to write (or rewrite) <c>tests/fixtures/data-dir-format-N.tar.gz</c> with this build: <c>tests/fixtures/make-data-dir-fixture.sh</c>.</summary>
    public const string WriteVariable = "CONCLAVE_WRITE_DATA_DIR_FIXTURE";

    private const int SnapshotCount = 16;
    private const long LeaseId = 0x7E57_AB1E;
    private const long LeaseTtl = 3600;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Fixtures() => [.. DataDirectoryFixture.All()];

    [Fact]
    public void A_fixture_of_this_builds_data_directory_format_is_checked_in()
    {
        Assert.Contains($"{DataDirectoryFixture.Prefix}{Conclave.Cluster.DataDirectoryFormat.Current}", DataDirectoryFixture.All());
        foreach (var name in DataDirectoryFixture.All())
        {
            var size = new FileInfo(Path.Combine(DataDirectoryFixture.Directory, name + ".tar.gz")).Length;
            Assert.True(size < 256 * 1024, $"{name}.tar.gz is {size} bytes; keep fixtures small");
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task A_data_directory_written_by_an_earlier_build_opens_with_all_its_data(string fixture)
    {
        var expected = DataDirectoryFixture.Load(fixture);
        using var temp = TempDirectory.Create("conclave-fixture-");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        var data = temp.Combine("data");
        DataDirectoryFixture.Extract(fixture, data);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(data, "snap"), "*.snap"));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(data, "log"), "*.wal"));
        output.WriteLine($"{fixture}: written by {expected.WrittenBy}, snapshot at {expected.SnapshotIndex}, applied {expected.AppliedIndex}");

        await using var node = await NodeProcess.StartAsync(data, new NodeProcessOptions
        {
            Name = expected.Name,
            Output = output,
            ExtraArguments = ["--snapshot-count", $"{expected.SnapshotCount}"],
        }, ct);
        await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [node.Endpoint] });

        // The state as the earlier build left it: the log after the snapshot was applied too.
        var status = await client.StatusAsync(cancellationToken: ct);
        Assert.True((long)status.RaftIndex >= expected.AppliedIndex, $"raft index {status.RaftIndex}, the fixture applied {expected.AppliedIndex}");
        var all = await client.GetAsync("\0", new GetOptions { FromKey = true }, ct);
        Assert.Equal(expected.Revision, all.Revision);
        Assert.Equal(expected.Keys, all.Kvs.Select(Describe));

        foreach (var read in expected.History)
        {
            var old = await client.GetAsync(read.Key, new GetOptions { Revision = read.Revision }, ct);
            Assert.Equal(read.Value, Assert.Single(old.Kvs).ValueString);
        }

        // The compaction: below it history is gone, as it was.
        var compacted = await Etcdctl.RunAsync(node.Endpoint, "get", "counter", $"--rev={expected.CompactRevision - 1}");
        Assert.NotEqual(0, compacted.ExitCode);
        Assert.Contains("required revision has been compacted", compacted.Stderr, StringComparison.Ordinal);

        // The lease with its key.
        var lease = await client.LeaseTimeToLiveAsync(expected.LeaseId, keys: true, ct);
        Assert.True(lease.Exists, $"lease {expected.LeaseId:x} is gone");
        Assert.Equal(expected.LeaseTtl, lease.GrantedTtl);
        Assert.Equal(expected.LeaseKey, Assert.Single(lease.Keys).ToStringUtf8());

        // The auth store.
        var user = (await Etcdctl.RunAsync(node.Endpoint, "user", "get", expected.User)).EnsureSuccess();
        Assert.Contains(expected.Role, user.Stdout, StringComparison.Ordinal);

        // The configuration center's release, through its API.
        var target = new ConfigTarget { App = expected.App, Environment = expected.Environment, Namespaces = [expected.Namespace] };
        var release = Assert.Single(await client.FetchConfigAsync(target, ct));
        Assert.Equal((expected.ReleaseId, expected.ContentHash, expected.ReleaseTitle), (release.ReleaseId, release.ContentHash, release.Title));
        Assert.Equal(expected.Configurations.OrderBy(static p => p.Key), release.Configurations.OrderBy(static p => p.Key));

        // And it goes on: a write takes the next revision, the center publishes a new release.
        Assert.Equal(expected.Revision + 1, (await client.PutAsync("after-upgrade", "yes", cancellationToken: ct)).Revision);
        var at = new[] { "--api", node.HttpUrl, "--author", "ops", "-a", expected.App, "-e", expected.Environment, "-n", expected.Namespace };
        await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "port", "9090"]);
        await ConclaveTool.OkAsync(output, ["config", .. at, "release", "publish", "-t", "after upgrade"]);
        await Eventually.WaitAsync(
            async c => (await client.FetchConfigAsync(target, c)) is [{ } r] && r.ReleaseId > expected.ReleaseId && r.Configurations["port"] == "9090",
            Deadline, "a release published after the upgrade", ct);

        // The directory records its format now (one written before the format file existed gets it on open).
        Assert.True(File.Exists(Path.Combine(data, Conclave.Cluster.DataDirectoryFormat.FileName)));
    }

    /// <summary>
    /// The fixture's generator: with <see cref="WriteVariable"/> set, writes <c>tests/fixtures/data-dir-format-N</c>
    /// (N: this build's data directory format) from a real member of this build. Without it, does nothing.
    /// </summary>
    [Fact]
    public async Task Writes_a_fixture_when_asked()
    {
        if (Environment.GetEnvironmentVariable(WriteVariable) is not "1")
        {
            return;
        }

        using var temp = TempDirectory.Create("conclave-fixture-");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = timeout.Token;
        var data = temp.Combine("data");
        const string name = "fixture";
        DataDirectoryFixture manifest;
        await using (var node = await NodeProcess.StartAsync(data, new NodeProcessOptions
        {
            Name = name,
            Output = output,
            ExtraArguments = ["--snapshot-count", $"{SnapshotCount}"],
        }, ct))
        {
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [node.Endpoint] });
            var at = new[] { "--api", node.HttpUrl, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application" };
            await ConclaveTool.OkAsync(output, "config", "--api", node.HttpUrl, "--author", "ops", "app", "create", "shop", "--owner", "team-shop");
            await ConclaveTool.OkAsync(output, "config", "--api", node.HttpUrl, "--author", "ops", "env", "create", "PRO", "--app", "shop");
            await ConclaveTool.OkAsync(output, "config", "--api", node.HttpUrl, "--author", "ops", "ns", "create", "application", "-a", "shop", "-e", "PRO");
            await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "port", "8080"]);
            await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "timeout", "30s"]);
            await ConclaveTool.OkAsync(output, ["config", .. at, "release", "publish", "-t", "first"]);

            var history = new List<DataDirectoryFixture.HistoricRead>();
            var revisions = new List<long>();
            for (var i = 0; i < 5; i++)
            {
                revisions.Add((await client.PutAsync("counter", $"v{i}", cancellationToken: ct)).Revision);
            }

            await client.PutAsync("other", "x", cancellationToken: ct);
            var goneAt = (await client.PutAsync("gone", "soon", cancellationToken: ct)).Revision;
            await client.DeleteAsync("gone", cancellationToken: ct);
            var compactRevision = revisions[2];
            await client.CompactAsync(compactRevision, cancellationToken: ct);
            history.Add(new("counter", revisions[2], "v2"));
            history.Add(new("counter", revisions[3], "v3"));
            history.Add(new("gone", goneAt, "soon"));
            await client.LeaseGrantAsync(LeaseTtl, LeaseId, ct);
            await client.PutAsync("leased", "held", new PutOptions { Lease = LeaseId }, ct);
            (await Etcdctl.RunAsync(node.Endpoint, "role", "add", "reader")).EnsureSuccess();
            (await Etcdctl.RunAsync(node.Endpoint, "user", "add", "alice:secret-pw")).EnsureSuccess();
            (await Etcdctl.RunAsync(node.Endpoint, "user", "grant-role", "alice", "reader")).EnsureSuccess();

            // Write on until the log holds entries after the newest snapshot: the fixture has both.
            for (var i = 0; ; i++)
            {
                var applied = (long)(await client.StatusAsync(cancellationToken: ct)).RaftIndex;
                if (applied > SnapshotCount * 2 && applied % SnapshotCount is > 4 and < 12)
                {
                    break;
                }

                await client.PutAsync($"tail/{i:D2}", $"t{i}", cancellationToken: ct);
            }

            var release = Assert.Single(await client.FetchConfigAsync(new ConfigTarget { App = "shop", Environment = "PRO", Namespaces = ["application"] }, ct));
            var all = await client.GetAsync("\0", new GetOptions { FromKey = true }, ct);
            var status = await client.StatusAsync(cancellationToken: ct);
            var version = (await ConclaveTool.OkAsync(output, "--version")).Trim();
            await Eventually.WaitAsync(() => Directory.EnumerateFiles(Path.Combine(data, "snap"), "*.snap").Any(), Deadline, "a snapshot", ct);
            await node.StopAsync(TimeSpan.FromSeconds(30), ct);
            var snapshotIndex = Directory.EnumerateFiles(Path.Combine(data, "snap"), "*.snap")
                .Select(static p => long.Parse(Path.GetFileName(p)["snapshot-".Length..][..20], System.Globalization.CultureInfo.InvariantCulture))
                .Max();
            manifest = new DataDirectoryFixture
            {
                Name = name,
                Format = Conclave.Cluster.DataDirectoryFormat.Current,
                WrittenBy = version,
                SnapshotCount = SnapshotCount,
                SnapshotIndex = snapshotIndex,
                AppliedIndex = (long)status.RaftIndex,
                Revision = all.Revision,
                CompactRevision = compactRevision,
                Keys = [.. all.Kvs.Select(Describe)],
                History = history,
                LeaseId = LeaseId,
                LeaseTtl = LeaseTtl,
                LeaseKey = "leased",
                User = "alice",
                Role = "reader",
                App = "shop",
                Environment = "PRO",
                Namespace = "application",
                ReleaseId = release.ReleaseId,
                ReleaseTitle = release.Title,
                ContentHash = release.ContentHash,
                Configurations = release.Configurations.ToDictionary(),
            };
            Assert.True(manifest.AppliedIndex > snapshotIndex, $"applied {manifest.AppliedIndex}, snapshot at {snapshotIndex}: no log after the snapshot");
        }

        var fixture = $"{DataDirectoryFixture.Prefix}{Conclave.Cluster.DataDirectoryFormat.Current}";
        DataDirectoryFixture.Pack(data, fixture);
        manifest.Save(fixture);
        output.WriteLine($"wrote {fixture}.tar.gz ({new FileInfo(Path.Combine(DataDirectoryFixture.Directory, fixture + ".tar.gz")).Length} bytes) and {fixture}.json");
    }

    private static string Describe(KeyValueEntry kv) =>
        $"{kv.KeyString}={kv.ValueString} create {kv.CreateRevision} mod {kv.ModRevision} version {kv.Version} lease {kv.Lease}";
}

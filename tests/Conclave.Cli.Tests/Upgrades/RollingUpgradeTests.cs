using Conclave.Cli.Tests.Snapshot;
using Conclave.Client;

namespace Conclave.Cli.Tests.Upgrades;

/// <summary>
/// The rolling upgrade of docs/upgrades.md with real processes of two builds: three members of the previous build
/// (<see cref="PreviousBinaryVariable"/>) form a cluster and take writes, then the followers and last the leader are
/// stopped and started again with this build one at a time, writes going on between the steps. At every step the
/// cluster is a mixed one, and every member must reach the same state; at the end the data written by the previous
/// build is all there and the configuration center goes on. Without the variable the test is reported as skipped, not
/// passed (the repository keeps no earlier binary; docs/upgrades.md says how to run it).
/// </summary>
public sealed class RollingUpgradeTests(ITestOutputHelper output)
{
    public const string PreviousBinaryVariable = "CONCLAVE_PREVIOUS_SERVER_BINARY";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [PreviousBuildFact]
    public async Task A_cluster_of_the_previous_build_upgrades_one_member_at_a_time_followers_first()
    {
        var previous = Environment.GetEnvironmentVariable(PreviousBinaryVariable)!;

        Assert.True(File.Exists(previous), $"{PreviousBinaryVariable} names {previous}, which does not exist");
        var current = DotnetHost.NativeServer;
        output.WriteLine($"upgrading from {previous} to {current ?? "the JIT build of this commit"}");
        using var temp = TempDirectory.Create("conclave-rolling-");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = timeout.Token;
        var names = new[] { "u1", "u2", "u3" };
        var ports = FreePorts.Take(9);
        var initialCluster = string.Join(',', names.Select((n, i) => $"{n}=http://127.0.0.1:{ports[(i * 3) + 2]}"));
        NodeProcessOptions Options(int i, string? binary) => new()
        {
            Name = names[i],
            Output = output,
            Binary = binary,
            ExtraArguments = ["--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--snapshot-count", "20"],
        };
        int[] Ports(int i) => ports[(i * 3)..((i * 3) + 3)];

        var members = new NodeProcess?[names.Length];
        try
        {
            for (var i = 0; i < names.Length; i++)
            {
                members[i] = await NodeProcess.StartOnPortsAsync(temp.Combine(names[i]), Ports(i), Options(i, previous), waitForHealth: false, ct);
            }

            await Task.WhenAll(members.Select(m => m!.WaitUntilHealthyAsync(ct)));
            var endpoints = members.Select(static m => m!.Endpoint).ToArray();
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = endpoints });

            // The previous build's data: keys with history, a lease, the configuration center.
            var target = new ConfigTarget { App = "shop", Environment = "PRO", Namespaces = ["application"] };
            var api = members[0]!.HttpUrl;
            var at = new[] { "--api", api, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application" };
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "app", "create", "shop", "--owner", "team-shop");
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "env", "create", "PRO", "--app", "shop");
            await ConclaveTool.OkAsync(output, "config", "--api", api, "--author", "ops", "ns", "create", "application", "-a", "shop", "-e", "PRO");
            await ConclaveTool.OkAsync(output, ["config", .. at, "item", "set", "port", "8080"]);
            await ConclaveTool.OkAsync(output, ["config", .. at, "release", "publish", "-t", "before"]);
            var firstRevision = (await client.PutAsync("counter", "v0", cancellationToken: ct)).Revision;
            for (var i = 1; i < 30; i++)
            {
                await client.PutAsync("counter", $"v{i}", cancellationToken: ct);
            }

            var lease = (await client.LeaseGrantAsync(3600, cancellationToken: ct)).Id;
            await client.PutAsync("leased", "held", new PutOptions { Lease = lease }, ct);
            var release = Assert.Single(await client.FetchConfigAsync(target, ct));

            // Followers first, the leader last.
            var leaderId = (await client.StatusAsync(cancellationToken: ct)).Leader;
            var order = new List<int>();
            for (var i = 0; i < names.Length; i++)
            {
                await using var one = new ConclaveClient(new ConclaveClientOptions { Endpoints = [endpoints[i]] });
                order.Insert((await one.StatusAsync(cancellationToken: ct)).MemberId == leaderId ? order.Count : 0, i);
            }

            Assert.Equal(names.Length, order.Count);
            foreach (var (i, step) in order.Select((i, step) => (i, step)))
            {
                output.WriteLine($"step {step}: upgrading {names[i]}{(step == order.Count - 1 ? " (the leader)" : "")}");
                await members[i]!.StopAsync(TimeSpan.FromSeconds(30), ct);
                await members[i]!.DisposeAsync();
                members[i] = null;
                members[i] = await NodeProcess.StartOnPortsAsync(temp.Combine(names[i]), Ports(i), Options(i, current), waitForHealth: true, ct);
                Assert.Equal("1", (await File.ReadAllTextAsync(Path.Combine(temp.Combine(names[i]), Conclave.Cluster.DataDirectoryFormat.FileName), ct)).Trim());

                // Writes go on in the mixed cluster, and every member reaches the same state.
                var revision = (await client.PutAsync($"step/{step}", names[i], cancellationToken: ct)).Revision;
                await ConclaveTool.OkAsync(output, ["config", "--api", members[i]!.HttpUrl, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application", "item", "set", $"step{step}", names[i]]);
                await Eventually.WaitAsync(
                    async c => (await Task.WhenAll(endpoints.Select(e => StateAsync(e, c)))) is var s
                               && s.Distinct().Count() == 1 && long.Parse(s[0].Split(':')[0], System.Globalization.CultureInfo.InvariantCulture) >= revision,
                    Deadline, $"every member at the same state after upgrading {names[i]}", ct);
                var states = await Task.WhenAll(endpoints.Select(e => StateAsync(e, ct)));
                Assert.Single(states.Distinct());
            }

            // Everything the previous build wrote is there, and the cluster goes on.
            Assert.Equal("v0", (await client.GetAsync("counter", new GetOptions { Revision = firstRevision }, ct)).Kvs.Single().ValueString);
            var kept = await client.LeaseTimeToLiveAsync(lease, keys: true, ct);
            Assert.True(kept.Exists);
            Assert.Equal("leased", Assert.Single(kept.Keys).ToStringUtf8());
            Assert.Equal(release.ReleaseId, Assert.Single(await client.FetchConfigAsync(target, ct)).ReleaseId);
            await ConclaveTool.OkAsync(output, ["config", "--api", members[order[^1]]!.HttpUrl, "--author", "ops", "-a", "shop", "-e", "PRO", "-n", "application", "release", "publish", "-t", "after"]);
            await Eventually.WaitAsync(
                async c => (await client.FetchConfigAsync(target, c)) is [{ } r] && r.ReleaseId > release.ReleaseId && r.Configurations.ContainsKey("step2"),
                Deadline, "a release published after the upgrade", ct);
        }
        finally
        {
            foreach (var member in members)
            {
                if (member is not null)
                {
                    await member.DisposeAsync();
                }
            }
        }
    }

    /// <summary>A member's own view (serializable): its revision and every user key with its revisions.</summary>
    private static async Task<string> StateAsync(string endpoint, CancellationToken cancellationToken)
    {
        await using var one = new ConclaveClient(new ConclaveClientOptions { Endpoints = [endpoint] });
        var all = await one.GetAsync("\0", new GetOptions { FromKey = true, Serializable = true }, cancellationToken);
        return $"{all.Revision}: " + string.Join(", ", all.Kvs.Select(static kv => $"{kv.KeyString}={kv.ValueString}@{kv.ModRevision}/{kv.CreateRevision}/{kv.Version}"));
    }
}

/// <summary>A fact that runs only when <see cref="RollingUpgradeTests.PreviousBinaryVariable"/> names a previous build; skipped (not passed) otherwise.</summary>
public sealed class PreviousBuildFactAttribute : FactAttribute
{
    public PreviousBuildFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(RollingUpgradeTests.PreviousBinaryVariable) is not { Length: > 0 })
        {
            Skip = $"{RollingUpgradeTests.PreviousBinaryVariable} is not set: no previous build to upgrade from";
        }
    }
}

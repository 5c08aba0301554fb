using System.Globalization;
using System.Text.RegularExpressions;
using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Cli;

/// <summary><c>conclave lease|lock|elect</c> against a running node, end to end.</summary>
public sealed partial class CliTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Lease_grant_ttl_keep_alive_list_revoke_print_like_etcdctl()
    {
        var key = Names.Unique("cli-lease");
        var grant = await CliRun.RunAsync("lease", "grant", "60", "--endpoints", Endpoint);
        var id = GrantPattern().Match(grant.Out).Groups["id"].Value;
        Assert.True(id.Length == 16, grant.ToString());
        await CliRun.RunAsync("kv", "put", key, "v", "--lease", id, "--endpoints", Endpoint);

        var ttl = await CliRun.RunAsync("lease", "ttl", id, "--keys", "--endpoints", Endpoint);
        var once = await CliRun.RunAsync("lease", "keep-alive", id, "--once", "--endpoints", Endpoint);
        var list = await CliRun.RunAsync("lease", "list", "--endpoints", Endpoint);
        var json = await CliRun.RunAsync("lease", "ttl", id, "-o", "json", "--endpoints", Endpoint);
        var revoke = await CliRun.RunAsync("lease", "revoke", id, "--endpoints", Endpoint);
        var expired = await CliRun.RunAsync("lease", "timetolive", id, "--endpoints", Endpoint);
        var again = await CliRun.RunAsync("lease", "revoke", id, "--endpoints", Endpoint);
        var bad = await CliRun.RunAsync("lease", "revoke", "not-hex", "--endpoints", Endpoint);

        Assert.Matches($@"^lease {id} granted with TTL\(60s\), remaining\((59|60)s\), attached keys\(\[{key}\]\)\n$", ttl.Out);
        Assert.Equal($"lease {id} keepalived with TTL(60)\n", once.Out);
        Assert.Matches(@"^found \d+ leases\n", list.Out);
        Assert.Contains($"\n{id}\n", list.Out);
        Assert.Contains($"\"id\":\"{id}\"", json.Out);
        Assert.Contains("\"granted_ttl\":60", json.Out);
        Assert.Equal($"lease {id} revoked\n", revoke.Out);
        Assert.Equal($"lease {id} already expired\n", expired.Out);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("requested lease not found", again.Error);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("ID must be a hexadecimal lease ID", bad.Error);
    }

    [Fact]
    public async Task Lease_keep_alive_prints_renewals_until_the_lease_is_revoked()
    {
        await using var client = fixture.CreateClient();
        var lease = await client.LeaseGrantAsync(3);
        var id = lease.Id.ToString("x16", CultureInfo.InvariantCulture);
        var output = new StringWriter();
        var running = CliRun.RunAsync(["lease", "keep-alive", id, "--endpoints", Endpoint], output, CancellationToken.None);
        var renewed = $"lease {id} keepalived with TTL(3)\n";
        await Eventually.WaitAsync(() => output.ToString().StartsWith(renewed + renewed, StringComparison.Ordinal), Deadline, "two renewals");

        await client.LeaseRevokeAsync(lease.Id);

        var result = await running.WaitAsync(Deadline);
        Assert.Equal(0, result.ExitCode);
        Assert.EndsWith($"lease {id} expired or revoked.\n", result.Out);
    }

    [Fact]
    public async Task Lock_runs_the_command_with_the_fencing_token_returns_its_exit_code_and_releases()
    {
        var name = Names.Unique("cli-lock");
        using var dir = TempDirectory.Create("cli-lock-");
        var seen = dir.Combine("seen");
        await using var client = fixture.CreateClient();

        var result = await CliRun.RunAsync("lock", name, "--ttl", "5", "--endpoints", Endpoint, "--", "sh", "-c", $"echo \"$CONCLAVE_FENCING_TOKEN $CONCLAVE_LOCK_KEY\" > '{seen}'; exit 7");

        Assert.Equal(7, result.ExitCode);
        var parts = (await File.ReadAllTextAsync(seen)).Trim().Split(' ');
        Assert.StartsWith(name + "/", parts[1], StringComparison.Ordinal);
        var token = long.Parse(parts[0], CultureInfo.InvariantCulture);
        Assert.True(token > 0);
        Assert.Equal(0, (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true })).Count);

        // The next holder's token is larger.
        var next = await CliRun.RunAsync("lock", name, "--endpoints", Endpoint, "--", "sh", "-c", $"echo $CONCLAVE_FENCING_TOKEN > '{seen}'");
        Assert.Equal(0, next.ExitCode);
        Assert.True(long.Parse((await File.ReadAllTextAsync(seen)).Trim(), CultureInfo.InvariantCulture) > token);

        var missing = await CliRun.RunAsync("lock", name, "--endpoints", Endpoint, "--", "/nonexistent/command");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("cannot run '/nonexistent/command'", missing.Error);
        Assert.Equal(0, (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true })).Count);
    }

    [Fact]
    public async Task Lock_without_a_command_prints_the_key_holds_until_ctrl_c_and_releases()
    {
        var name = Names.Unique("cli-hold");
        await using var client = fixture.CreateClient();
        using var ctrlC = new CancellationTokenSource();
        var output = new StringWriter();
        var holding = CliRun.RunAsync(["lock", name, "--endpoints", Endpoint], output, ctrlC.Token);
        await Eventually.WaitAsync(() => output.ToString().EndsWith('\n'), Deadline, "the holder key");
        var key = output.ToString().Trim();
        Assert.StartsWith(name + "/", key, StringComparison.Ordinal);
        Assert.True((await client.GetAsync(key)).Found);

        // A second contender through the SDK waits behind it.
        await using var session = await client.CreateSessionAsync(10);
        var waiting = session.LockAsync(name).AsTask();
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the SDK contender to queue");
        Assert.False(waiting.IsCompleted);

        await ctrlC.CancelAsync();

        var result = await holding.WaitAsync(Deadline);
        Assert.Equal(0, result.ExitCode);
        await using var next = await waiting.WaitAsync(Deadline);
        Assert.False((await client.GetAsync(key)).Found);
    }

    [Fact]
    public async Task Elect_campaigns_and_elect_listen_observes_the_leader()
    {
        var name = Names.Unique("cli-elect");
        using var stopObserver = new CancellationTokenSource();
        using var stopLeader = new CancellationTokenSource();
        var observed = new StringWriter();
        var led = new StringWriter();
        var observer = CliRun.RunAsync(["elect", name, "-l", "--endpoints", Endpoint], observed, stopObserver.Token);
        var leader = CliRun.RunAsync(["elect", name, "10.0.0.1:8080", "--endpoints", Endpoint], led, stopLeader.Token);

        await Eventually.WaitAsync(() => led.ToString().EndsWith("10.0.0.1:8080\n", StringComparison.Ordinal), Deadline, "the candidate to be elected");
        var key = led.ToString().Split('\n')[0];
        Assert.StartsWith(name + "/", key, StringComparison.Ordinal);
        await Eventually.WaitAsync(() => observed.ToString() == $"{key}\n10.0.0.1:8080\n", Deadline, "the observer to print the leader");

        await stopLeader.CancelAsync();
        Assert.Equal(0, (await leader.WaitAsync(Deadline)).ExitCode);
        await using (var client = fixture.CreateClient())
        {
            Assert.Null(await client.LeaderAsync(name));
        }

        await stopObserver.CancelAsync();
        Assert.Equal(0, (await observer.WaitAsync(Deadline)).ExitCode);
        var missing = await CliRun.RunAsync("elect", name, "--endpoints", Endpoint);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("elect needs a PROPOSAL", missing.Error);
    }

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{16}) granted with TTL\(60s\)\n$")]
    private static partial Regex GrantPattern();
}

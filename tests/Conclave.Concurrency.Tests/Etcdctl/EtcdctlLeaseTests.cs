using System.Globalization;
using System.Text.RegularExpressions;
using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Etcdctl;

/// <summary>etcdctl 3.4's lease commands against Conclave, with etcd's output and error texts.</summary>
public sealed partial class EtcdctlLeaseTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Grant_put_timetolive_keepalive_once_list_and_revoke()
    {
        var prefix = Names.Unique("ctl-lease") + "/";
        var grant = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "grant", "60")).EnsureSuccess();
        var id = ParseGrant(grant.Stdout, 60);

        (await Testing.Etcdctl.RunAsync(Endpoint, "put", $"--lease={id}", prefix + "b", "2")).EnsureSuccess();
        (await Testing.Etcdctl.RunAsync(Endpoint, "put", $"--lease={id}", prefix + "a", "1")).EnsureSuccess();
        var ttl = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "timetolive", id, "--keys")).EnsureSuccess();
        var keepAlive = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "keep-alive", "--once", id)).EnsureSuccess();
        var list = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "list")).EnsureSuccess();
        var getLease = (await Testing.Etcdctl.RunAsync(Endpoint, "get", prefix + "a", "-w", "json")).EnsureSuccess();
        var revoke = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "revoke", id)).EnsureSuccess();
        var after = (await Testing.Etcdctl.RunAsync(Endpoint, "get", prefix, "--prefix")).EnsureSuccess();
        var gone = (await Testing.Etcdctl.RunAsync(Endpoint, "lease", "timetolive", id)).EnsureSuccess();

        var remaining = TimeToLivePattern().Match(ttl.Stdout);
        Assert.True(remaining.Success, ttl.ToString());
        Assert.Equal(id, remaining.Groups["id"].Value);
        Assert.Equal("60", remaining.Groups["granted"].Value);
        Assert.InRange(int.Parse(remaining.Groups["left"].Value, CultureInfo.InvariantCulture), 50, 60);
        Assert.Equal($"[{prefix}a {prefix}b]", remaining.Groups["keys"].Value);
        Assert.Equal($"lease {id} keepalived with TTL(60)\n", keepAlive.Stdout);
        Assert.Matches(@"^found \d+ leases\n", list.Stdout);
        Assert.Contains(id, list.Lines);
        Assert.Contains($"\"lease\":{long.Parse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture)}", getLease.Stdout);
        Assert.Equal($"lease {id} revoked\n", revoke.Stdout);
        Assert.Equal(string.Empty, after.Stdout);
        Assert.Equal($"lease {id} already expired\n", gone.Stdout);
    }

    [Fact]
    public async Task Keep_alive_streams_renewals_until_the_lease_is_revoked()
    {
        var id = ParseGrant((await Testing.Etcdctl.RunAsync(Endpoint, "lease", "grant", "3")).EnsureSuccess().Stdout, 3);
        await using var keepAlive = Testing.Etcdctl.Start(Endpoint, "lease", "keep-alive", id);

        // etcdctl renews every TTL/3: two answers in a row prove the stream is renewing, not just answering once.
        var renewed = $"lease {id} keepalived with TTL(3)";
        await keepAlive.WaitForLinesAsync([renewed, renewed], TimeSpan.FromSeconds(20));
        await using (var client = fixture.CreateClient())
        {
            Assert.True((await client.LeaseTimeToLiveAsync(long.Parse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture))).Exists);
            await client.LeaseRevokeAsync(long.Parse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }

        await keepAlive.WaitForLinesAsync([$"lease {id} expired or revoked."], TimeSpan.FromSeconds(20));
        Assert.Equal(0, await keepAlive.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Unknown_leases_and_bad_ttls_get_etcds_answers()
    {
        const string unknown = "7fffabcd00001234";
        var put = await Testing.Etcdctl.RunAsync(Endpoint, "put", $"--lease={unknown}", Names.Unique("ctl-bad"), "v");
        var revoke = await Testing.Etcdctl.RunAsync(Endpoint, "lease", "revoke", unknown);
        var keepAlive = await Testing.Etcdctl.RunAsync(Endpoint, "lease", "keep-alive", "--once", unknown);
        var ttl = await Testing.Etcdctl.RunAsync(Endpoint, "lease", "timetolive", unknown);
        var tooLarge = await Testing.Etcdctl.RunAsync(Endpoint, "lease", "grant", "9000000001");
        var tiny = await Testing.Etcdctl.RunAsync(Endpoint, "lease", "grant", "1");

        Assert.NotEqual(0, put.ExitCode);
        Assert.Contains("Error: etcdserver: requested lease not found", put.Stderr);
        Assert.NotEqual(0, revoke.ExitCode);
        Assert.Contains("Error: failed to revoke lease (etcdserver: requested lease not found)", revoke.Stderr);
        Assert.NotEqual(0, keepAlive.ExitCode);
        Assert.Contains("Error: etcdserver: requested lease not found", keepAlive.Stderr);
        Assert.Equal((0, $"lease {unknown} already expired\n"), (ttl.ExitCode, ttl.Stdout));
        Assert.NotEqual(0, tooLarge.ExitCode);
        Assert.Contains("Error: failed to grant lease (etcdserver: too large lease TTL)", tooLarge.Stderr);

        // Below the minimum TTL is raised to it, as etcd does.
        ParseGrant(tiny.EnsureSuccess().Stdout, 2);
    }

    private static string ParseGrant(string stdout, int ttl)
    {
        var match = GrantPattern().Match(stdout);
        Assert.True(match.Success, $"unexpected grant output: {stdout}");
        Assert.Equal(ttl.ToString(CultureInfo.InvariantCulture), match.Groups["ttl"].Value);
        return match.Groups["id"].Value;
    }

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{16}) granted with TTL\((?<ttl>\d+)s\)\n$")]
    private static partial Regex GrantPattern();

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{16}) granted with TTL\((?<granted>\d+)s\), remaining\((?<left>\d+)s\), attached keys\((?<keys>\[.*\])\)\n$")]
    private static partial Regex TimeToLivePattern();
}

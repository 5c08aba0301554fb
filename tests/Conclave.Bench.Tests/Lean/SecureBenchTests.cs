using System.Text.Json;

namespace Conclave.Bench.Tests.Lean;

/// <summary>
/// put and range with <c>--cacert</c> and <c>--user</c> against a member with TLS and auth, on both transports: what
/// <c>SECURE=1 bench/compare-etcd.sh</c> runs.
/// </summary>
public sealed class SecureBenchTests(SecureConclaveFixture server) : IClassFixture<SecureConclaveFixture>
{
    [Theory]
    [InlineData("lean")]
    [InlineData("grpc")]
    public async Task Put_and_linearizable_range_run_over_tls_with_a_token(string transport)
    {
        string[] secure = ["--endpoints", server.HostPort, "--cacert", server.CaFile, "--user", "bench:benchpw", "--transport", transport, "--json"];
        var put = await BenchRun.RunAsync(["put", .. secure, "--conns", "2", "--clients", "4", "--total", "200", "--key-space-size", "20"]);
        var range = await BenchRun.RunAsync(["range", .. secure, "--conns", "2", "--clients", "4", "--total", "200", "--key", "bench-range-key", "--consistency", "l", "--server-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        foreach (var run in new[] { put, range })
        {
            Assert.Equal((0, string.Empty), (run.ExitCode, run.Error));
            using var json = JsonDocument.Parse(run.Out);
            Assert.Equal(200, json.RootElement.GetProperty("total").GetInt64());
            Assert.Equal(0, json.RootElement.GetProperty("errors").GetInt64());
            Assert.True(json.RootElement.GetProperty("tls").GetBoolean());
            Assert.Equal("bench", json.RootElement.GetProperty("user").GetString());
        }

        // The member runs in this process: --server-pid reports its CPU over the loop.
        using var rangeJson = JsonDocument.Parse(range.Out);
        Assert.True(rangeJson.RootElement.GetProperty("server_cpu_us_per_req").GetDouble() > 0);
    }

    [Fact]
    public async Task Without_a_user_every_request_is_refused_and_a_wrong_password_stops_the_run()
    {
        var anonymous = await BenchRun.RunAsync("put", "--endpoints", server.HostPort, "--cacert", server.CaFile, "--total", "20", "--json");
        Assert.Equal(0, anonymous.ExitCode);
        using var json = JsonDocument.Parse(anonymous.Out);
        Assert.Equal(0, json.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(20, json.RootElement.GetProperty("errors").GetInt64());
        Assert.Contains("user name is empty", Assert.Single(json.RootElement.GetProperty("error_kinds").EnumerateObject()).Name, StringComparison.Ordinal);

        var wrong = await BenchRun.RunAsync("put", "--endpoints", server.HostPort, "--cacert", server.CaFile, "--user", "bench:nope", "--total", "20");
        Assert.Equal(BenchExit.Failure, wrong.ExitCode);
        Assert.Matches("^Error: .+: authenticating as 'bench' failed: etcdserver: authentication failed, invalid user ID or password\n$", wrong.Error);
    }

    [Fact]
    public async Task Tls_options_are_refused_where_they_are_not_supported()
    {
        var watch = await BenchRun.RunAsync("watch", "--endpoints", server.HostPort, "--cacert", server.CaFile, "--total", "1");
        Assert.NotEqual(0, watch.ExitCode);
        Assert.Contains("'--cacert'", watch.Error, StringComparison.Ordinal);

        var plain = await BenchRun.RunAsync("put", "--endpoints", "http://" + server.HostPort, "--cacert", server.CaFile, "--total", "1");
        Assert.Equal(BenchExit.Failure, plain.ExitCode);
        Assert.Contains("is http://", plain.Error, StringComparison.Ordinal);

        var halfCertificate = await BenchRun.RunAsync("put", "--endpoints", server.HostPort, "--cacert", server.CaFile, "--cert", server.CaFile, "--total", "1");
        Assert.Equal((BenchExit.Failure, "Error: --cert and --cert-key go together: a client certificate needs its key.\n"), (halfCertificate.ExitCode, halfCertificate.Error));
    }
}

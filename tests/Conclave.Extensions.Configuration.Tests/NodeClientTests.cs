using System.Security.Cryptography;
using System.Text.Json;
using Conclave.Client;
using Conclave.Extensions.Configuration.Internal;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// The Node.js client (<c>clients/node</c>, <c>@conclave/client</c>): its own test files run with <c>node --test</c>
/// against real member processes they start from <c>CONCLAVE_SERVER_BINARY</c> (or this build's conclave.dll), and
/// every node test must pass; and the last-known-good cache file is one format for both clients, so each reads the
/// file the other wrote.
/// </summary>
public sealed class NodeClientTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(6);
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static bool built;

    [Theory]
    [InlineData("client.test.mjs")]
    [InlineData("cluster.test.mjs")]
    [InlineData("tls.test.mjs")]
    [InlineData("flags.test.mjs")]
    [InlineData("openfeature.test.mjs")]
    [InlineData("flag-usage.test.mjs")]
    [InlineData("flag-insight.test.mjs")]
    public async Task The_node_clients_tests_pass_against_real_members(string file)
    {
        var directory = await BuildAsync();
        var environment = new Dictionary<string, string>();
        if (DotnetHost.NativeServer is null)
        {
            environment["CONCLAVE_SERVER_DLL"] = DotnetHost.ConclaveDll;
            environment["DOTNET_HOST_PATH"] = DotnetHost.Muxer;
        }

        // tls.test.mjs: a CA, the member's certificate for loopback and a client certificate, as PEM files.
        using var certificates = new TestCertificates();
        var member = certificates.IssueMember("m1", ["127.0.0.1", "localhost"]);
        var client = certificates.IssueClient("root");
        environment["CONCLAVE_TEST_TLS"] = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["ca"] = certificates.CaFile,
            ["memberCert"] = member.Cert,
            ["memberKey"] = member.Key,
            ["clientCert"] = client.Cert,
            ["clientKey"] = client.Key,
        });

        var run = await NodeProgram.RunInAsync(
            directory, NodeProgram.Find("node"), ["--test", "--test-concurrency=1", "--test-reporter=tap", $"test/{file}"], environment, output, Deadline);

        var counts = run.Stdout.Select(line => line.Split(' ')).Where(p => p is ["#", "pass" or "fail" or "cancelled" or "skipped", _])
            .ToDictionary(p => p[1], p => int.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(run.ExitCode == 0, $"node --test {file} failed:\n{run}");
        Assert.True(
            counts.GetValueOrDefault("pass") > 0 && counts.GetValueOrDefault("fail") == 0 && counts.GetValueOrDefault("cancelled") == 0 && counts.GetValueOrDefault("skipped") == 0,
            $"node --test {file}:\n{run}");
        output.WriteLine($"node --test {file}: {counts.GetValueOrDefault("pass")} passed, {counts.GetValueOrDefault("fail")} failed");
    }

    [Fact]
    public async Task The_node_client_reads_the_cache_the_dotnet_provider_wrote()
    {
        var directory = await BuildAsync();
        using var temp = TempDirectory.Create("conclave-node-interop-");
        var key = RandomNumberGenerator.GetBytes(32);
        var identity = "shop\nPRO\napplication,db.json";
        var path = Path.Combine(temp.Path, LastKnownGoodCache.FileNameFor(identity, "shop", "PRO"));
        var created = DateTimeOffset.FromUnixTimeMilliseconds(1_780_000_000_123);
        ConfigRelease[] releases =
        [
            new("shop", "PRO", "application", 7, "properties", "port=8080\nname=caf\u00e9\n", new Dictionary<string, string> { ["port"] = "8080", ["name"] = "caf\u00e9" }, new string('a', 64), false, "seventh", "alice", created),
            new("shop", "PRO", "db.json", 3, "json", "{\"db\":{\"host\":\"h\"}}", new Dictionary<string, string>(), new string('b', 64), true, "gray", "bob", created),
        ];
        await new LastKnownGoodCache(path, key, identity, TimeProvider.System).SaveAsync(releases, CancellationToken.None);

        var read = await RunInteropAsync(directory, ["read", temp.Path, Convert.ToBase64String(key), "shop", "PRO", "application,db.json"]);

        Assert.Equal(Path.GetFileName(path), read.GetProperty("fileName").GetString());
        var nodeReleases = read.GetProperty("releases");
        Assert.Equal(2, nodeReleases.GetArrayLength());
        var first = nodeReleases[0];
        Assert.Equal("application", first.GetProperty("namespace").GetString());
        Assert.Equal("PRO", first.GetProperty("env").GetString());
        Assert.Equal(7, first.GetProperty("releaseId").GetInt64());
        Assert.Equal("caf\u00e9", first.GetProperty("configurations").GetProperty("name").GetString());
        Assert.Equal("port=8080\nname=caf\u00e9\n", first.GetProperty("content").GetString());
        Assert.Equal(created, first.GetProperty("createdAt").GetDateTimeOffset());
        Assert.False(first.GetProperty("gray").GetBoolean());
        Assert.True(nodeReleases[1].GetProperty("gray").GetBoolean());
        Assert.Equal("bob", nodeReleases[1].GetProperty("author").GetString());

        // Another key: refused by the node client too.
        var refused = await RunInteropAsync(directory, ["read", temp.Path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), "shop", "PRO", "application,db.json"]);
        Assert.Equal("ConclaveCacheError", refused.GetProperty("error").GetString());
        Assert.Contains("authentication failed", refused.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dotnet_provider_reads_the_cache_the_node_client_wrote()
    {
        var directory = await BuildAsync();
        using var temp = TempDirectory.Create("conclave-node-interop-");
        var key = RandomNumberGenerator.GetBytes(32);
        var input = Path.Combine(temp.Path, "releases.json");
        await File.WriteAllTextAsync(input, """
            [{"app":"shop","env":"PRO","namespace":"application","releaseId":12,"format":"properties","content":"port=9090\n",
              "configurations":{"port":"9090","greeting":"gr\u00fc\u00df dich"},"contentHash":"cc","gray":true,"title":"from node","author":"carol",
              "createdAt":"2026-12-01T10:00:00.250Z"}]
            """);

        var written = await RunInteropAsync(directory, ["write", temp.Path, Convert.ToBase64String(key), "shop", "PRO", "application", input]);

        var identity = "shop\nPRO\napplication";
        Assert.Equal(LastKnownGoodCache.FileNameFor(identity, "shop", "PRO"), written.GetProperty("fileName").GetString());
        var document = new LastKnownGoodCache(written.GetProperty("path").GetString()!, key, identity, TimeProvider.System).Load();
        Assert.NotNull(document);
        Assert.Equal(LastKnownGoodCache.FormatVersion, document.Version);
        var release = Assert.Single(document.Releases);
        Assert.Equal(("shop", "PRO", "application", 12L), (release.App, release.Environment, release.Namespace, release.ReleaseId));
        Assert.Equal("gr\u00fc\u00df dich", release.Configurations["greeting"]);
        Assert.True(release.IsGray);
        Assert.Equal(("from node", "carol"), (release.Title, release.Author));
        Assert.Equal(DateTimeOffset.Parse("2026-12-01T10:00:00.250Z", System.Globalization.CultureInfo.InvariantCulture), release.CreatedAt);

        // Bound to app, environment and namespaces: the same file for another namespace list does not open.
        var other = new LastKnownGoodCache(written.GetProperty("path").GetString()!, key, "shop\nPRO\napplication,db.json", TimeProvider.System);
        Assert.Contains("authentication failed", Assert.Throws<InvalidDataException>(() => other.Load()).Message, StringComparison.Ordinal);
    }

    private async Task<JsonElement> RunInteropAsync(string directory, IReadOnlyList<string> args)
    {
        var run = await NodeProgram.RunInAsync(directory, NodeProgram.Find("node"), ["test/cache-interop.mjs", .. args], null, output, TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, run.ToString());
        return Assert.Single(run.JsonLines);
    }

    /// <summary>clients/node with its locked packages installed (npm ci) and built (npm run build), once per test run.</summary>
    private async Task<string> BuildAsync()
    {
        var directory = ClientDirectory();
        await BuildGate.WaitAsync();
        try
        {
            if (!built)
            {
                await NodeProgram.EnsurePackagesAsync(directory, output, CancellationToken.None);
                var build = await NodeProgram.RunInAsync(directory, NodeProgram.Find("npm"), ["run", "build", "--silent"], null, output, TimeSpan.FromMinutes(5));
                Assert.True(build.ExitCode == 0, $"npm run build in {directory} failed:\n{build}");
                built = true;
            }
        }
        finally
        {
            BuildGate.Release();
        }

        return directory;
    }

    private static string ClientDirectory() => RepositoryPaths.Of("clients", "node");
}

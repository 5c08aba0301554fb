using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Conclave.Api.Config.V1;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The promise of issue 21 item 4 on a real member process: a secret's plaintext is nowhere in the data directory (log,
/// snapshots), nor in an export, while a client's Fetch gets it and the API shows a mask; and a master-key rotation lets
/// the old key be removed with the secret still opening.
/// </summary>
public sealed class SecretsAtRestTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_plaintext_is_only_in_what_clients_fetch_and_survives_a_master_key_rotation()
    {
        using var dir = TempDirectory.Create();
        var keyA = dir.Combine("key-a");
        var keyB = dir.Combine("key-b");
        await File.WriteAllTextAsync(keyA, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");
        await File.WriteAllTextAsync(keyB, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyA, UnixFileMode.UserRead | UnixFileMode.UserWrite); // the member refuses a key others can read
            File.SetUnixFileMode(keyB, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var data = dir.Combine("data");
        var marker = "s3cret-" + Guid.NewGuid().ToString("N");
        NodeProcessOptions Options(string keys) => new() { Output = output, ExtraArguments = ["--snapshot-count", "20", "--config-master-key-file", keys] };

        var node = await NodeProcess.StartAsync(data, Options(keyA));
        try
        {
            using (var http = Http(node))
            {
                await SendAsync(http, HttpMethod.Post, "/api/v1/apps", new JsonObject { ["id"] = "shop" });
                await SendAsync(http, HttpMethod.Post, "/api/v1/apps/shop/envs", new JsonObject { ["name"] = "PRO" });
                await SendAsync(http, HttpMethod.Post, "/api/v1/apps/shop/envs/PRO/namespaces", new JsonObject { ["name"] = "application", ["format"] = "properties" });
                await SendAsync(http, HttpMethod.Put, "/api/v1/apps/shop/envs/PRO/namespaces/application/items/db.password", new JsonObject { ["value"] = marker, ["secret"] = true });
                await SendAsync(http, HttpMethod.Post, "/api/v1/apps/shop/envs/PRO/namespaces/application/releases", new JsonObject { ["title"] = "r1" });
                // Enough entries for several snapshots (one every 20 log entries).
                for (var i = 0; i < 60; i++)
                {
                    await SendAsync(http, HttpMethod.Put, $"/api/v1/apps/shop/envs/PRO/namespaces/application/items/filler.{i}", new JsonObject { ["value"] = $"v{i}" });
                }

                await SendAsync(http, HttpMethod.Post, "/api/v1/apps/shop/envs/PRO/namespaces/application/releases", new JsonObject { ["title"] = "r2" });

                Assert.Equal(marker, await FetchAsync(node));
                var view = await SendAsync(http, HttpMethod.Get, "/api/v1/apps/shop/envs/PRO/namespaces/application", null);
                var item = view["items"]!.AsArray().Single(i => (string?)i!["key"] == "db.password")!;
                Assert.Equal("******", (string?)item["value"]);
                Assert.True((bool?)item["secret"]);
                Assert.DoesNotContain(marker, (await SendAsync(http, HttpMethod.Get, "/api/v1/apps/shop/envs/PRO/namespaces/application/releases", null)).ToJsonString(), StringComparison.Ordinal);
                Assert.DoesNotContain(marker, (await SendAsync(http, HttpMethod.Get, "/api/v1/apps/shop/envs/PRO/namespaces/application/diff?from=1&to=2", null)).ToJsonString(), StringComparison.Ordinal);
                Assert.DoesNotContain(marker, (await SendAsync(http, HttpMethod.Get, "/api/v1/apps/shop/audit", null)).ToJsonString(), StringComparison.Ordinal);

                var export = (await SendAsync(http, HttpMethod.Get, "/api/v1/apps/shop/export", null)).ToJsonString();
                Assert.Contains("sealed:v1:", export, StringComparison.Ordinal);
                Assert.DoesNotContain(marker, export, StringComparison.Ordinal);
                await File.WriteAllTextAsync(dir.Combine("export.json"), export);
            }

            await Eventually.WaitAsync(() => Directory.EnumerateFiles(data, "*.snap", SearchOption.AllDirectories).Any(), Eventually.DefaultTimeout, "a snapshot file in the data directory");
            await node.StopAsync(TimeSpan.FromSeconds(20));
            var files = Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories).ToList();
            output.WriteLine($"searched {files.Count} files, {files.Count(f => f.EndsWith(".snap", StringComparison.Ordinal))} snapshots");
            var needle = Encoding.UTF8.GetBytes(marker);
            Assert.All(files, f => Assert.True(File.ReadAllBytes(f).AsSpan().IndexOf(needle) < 0, $"{f} holds the secret's plaintext"));
            Assert.Contains(files, f => File.ReadAllBytes(f).AsSpan().IndexOf("sealed:v1:"u8) >= 0);

            // Rotation: B becomes current with A still readable, everything is re-wrapped under B, then A goes.
            var ports = new[] { Port(node.Endpoint), Port(node.HttpUrl), Port(node.PeerUrl) };
            await node.DisposeAsync();
            node = await NodeProcess.StartOnPortsAsync(data, ports, Options($"{keyB},{keyA}"), waitForHealth: true);
            Assert.Equal(marker, await FetchAsync(node));
            using (var http = Http(node))
            {
                var rotated = await SendAsync(http, HttpMethod.Post, "/api/v1/keys/rotate", null);
                Assert.True((int)rotated["rewrapped"]! >= 1);
                Assert.Empty(rotated["failed"]!.AsArray());
            }

            await node.StopAsync(TimeSpan.FromSeconds(20));
            await node.DisposeAsync();
            node = await NodeProcess.StartOnPortsAsync(data, ports, Options(keyB), waitForHealth: true);
            Assert.Equal(marker, await FetchAsync(node));

            // A member with only A can no longer open it, and says so rather than failing obscurely.
            await node.StopAsync(TimeSpan.FromSeconds(20));
            await node.DisposeAsync();
            node = await NodeProcess.StartOnPortsAsync(data, ports, Options(keyA), waitForHealth: true);
            var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => FetchAsync(node));
            Assert.Equal(Grpc.Core.StatusCode.FailedPrecondition, refused.StatusCode);
            Assert.Contains("master key", refused.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static int Port(string url) => new Uri(url).Port;

    private static HttpClient Http(NodeProcess node)
    {
        var http = node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "alice");
        return http;
    }

    private static async Task<string> FetchAsync(NodeProcess node)
    {
        using var channel = node.CreateChannel();
        var response = await new ConfigService.ConfigServiceClient(channel).FetchAsync(new FetchRequest { App = "shop", Env = "PRO", Namespaces = { "application" } });
        return response.Releases.Single().Configurations["db.password"];
    }

    private static async Task<JsonNode> SendAsync(HttpClient http, HttpMethod method, string path, JsonObject? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Config.V1;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>
/// Issue 23 items 4 and 5 at the server's edge: Subscribe writes one serialized message per release and gray variant to
/// every stream that gets it (clients see ordinary Release messages), and the app list pages with range reads.
/// </summary>
public sealed class ConfigFanOutTests(ITestOutputHelper output)
{
    private const string Env = "PRO";
    private const string Ns = "application";
    private static readonly ChangeContext Who = new("alice");

    [Fact]
    public async Task Every_subscriber_of_a_release_gets_the_same_message_encoded_once_per_variant()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var center = node.Server.Services.GetRequiredService<ConfigCenterService>();
        var encodings = node.Server.Services.GetRequiredService<ReleaseEncodings>();
        await center.CreateAppAsync("shop", null, null, Who);
        await center.CreateEnvironmentAsync("shop", Env, Who);
        await center.CreateNamespaceAsync("shop", Env, Ns, NamespaceFormat.Properties, null, Who);
        await center.SetItemAsync("shop", Env, Ns, new ConfigItem("port", "8080"), 0, Who);
        await center.PublishAsync("shop", Env, Ns, "first", null, 0, Who);

        using var channel = GrpcChannel.ForAddress(node.Endpoint);
        var client = new ConfigService.ConfigServiceClient(channel);
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        var calls = Enumerable.Range(0, 6).Select(i => client.Subscribe(new SubscribeRequest
        {
            App = "shop", Env = Env, Namespaces = { Ns }, Instance = new InstanceIdentity { InstanceId = $"pod-{i}" },
        }, cancellationToken: cts.Token)).ToList();
        try
        {
            var before = encodings.Encoded;
            foreach (var call in calls)
            {
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
                Assert.Equal(1, call.ResponseStream.Current.ReleaseId);
                Assert.Equal("8080", call.ResponseStream.Current.Configurations["port"]);
            }

            Assert.InRange(encodings.Encoded - before, 0, 1);

            // A gray release for pod-0 and pod-1 only: two variants of the namespace, each encoded once.
            before = encodings.Encoded;
            await center.SetItemAsync("shop", Env, Ns, new ConfigItem("port", "9090"), 0, Who);
            await center.GrayPublishAsync("shop", Env, Ns, new GrayRule { InstanceIds = ["pod-0", "pod-1"] }, "canary", null, 0, Who);
            for (var i = 0; i < 2; i++)
            {
                Assert.True(await calls[i].ResponseStream.MoveNext(cts.Token));
                Assert.True(calls[i].ResponseStream.Current.Gray);
                Assert.Equal("9090", calls[i].ResponseStream.Current.Configurations["port"]);
            }

            Assert.Equal(1, encodings.Encoded - before);
            await center.PublishAsync("shop", Env, Ns, "second", null, 0, Who);
            foreach (var call in calls.Skip(2))
            {
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
                Assert.Equal(3, call.ResponseStream.Current.ReleaseId);
                Assert.False(call.ResponseStream.Current.Gray);
                Assert.Equal("9090", call.ResponseStream.Current.Configurations["port"]);
                Assert.Equal(ConfigCenterService.Hash(call.ResponseStream.Current.Content), call.ResponseStream.Current.ContentHash);
            }

            Assert.Equal(2, encodings.Encoded - before);
        }
        finally
        {
            await cts.CancelAsync();
            foreach (var call in calls)
            {
                call.Dispose();
            }
        }

        // The other methods answer as before through the hand-made binding.
        var fetched = await client.FetchAsync(new FetchRequest { App = "shop", Env = Env, Namespaces = { Ns }, Instance = new InstanceIdentity { InstanceId = "pod-9" } });
        Assert.Equal(3, fetched.Releases.Single().ReleaseId);
        var report = await client.ReportAsync(new ReportRequest { App = "shop", Env = Env, Namespace = Ns, Instance = new InstanceIdentity { InstanceId = "pod-9" }, ReleaseId = 3 });
        Assert.True(report.LeaseId > 0);
        Assert.Equal(1, (await client.GetConvergenceAsync(new ConvergenceRequest { App = "shop", Env = Env, Namespace = Ns })).Applied);
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await client.FetchAsync(new FetchRequest { App = "nope", Env = Env, Namespaces = { Ns } }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task The_app_list_pages_return_every_app_exactly_once_and_the_unpaged_list_is_unchanged()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var center = node.Server.Services.GetRequiredService<ConfigCenterService>();
        var ids = Enumerable.Range(0, 23).Select(i => $"app{i:D2}").Concat(["billing", "billing-eu", "zeta"]).ToList();
        foreach (var id in ids)
        {
            await center.CreateAppAsync(id, null, null, Who);
        }

        using var http = node.CreateHttpClient();
        var all = (await http.GetFromJsonAsync<JsonElement>("/api/v1/apps")).EnumerateArray().Select(a => a.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), all);

        var paged = new List<string?>();
        string? after = null;
        var pages = 0;
        while (true)
        {
            using var response = await http.GetAsync($"/api/v1/apps?limit=5{(after is null ? "" : "&after=" + after)}");
            response.EnsureSuccessStatusCode();
            var page = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Select(a => a.GetProperty("id").GetString()).ToList();
            Assert.InRange(page.Count, 1, 5);
            paged.AddRange(page);
            pages++;
            if (!response.Headers.TryGetValues("X-Conclave-Next-After", out var next))
            {
                break;
            }

            Assert.Equal(page[^1], next.Single());
            Assert.Contains("rel=\"next\"", response.Headers.GetValues("Link").Single(), StringComparison.Ordinal);
            after = next.Single();
        }

        Assert.Equal(all, paged);
        Assert.Equal(6, pages);

        var billing = (await http.GetFromJsonAsync<JsonElement>("/api/v1/apps?prefix=billing")).EnumerateArray().Select(a => a.GetProperty("id").GetString());
        Assert.Equal(["billing", "billing-eu"], billing);
        using var tooMany = await http.GetAsync("/api/v1/apps?limit=5000");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("limit", await tooMany.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Config.V1;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Tests.Fixtures;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>
/// The configuration center's records live in the system keyspace (ADR 0012): what etcd's KV and Watch API show of a
/// member with center data is exactly what etcd would show of the same user keys. Each test starts its own member,
/// because some of them delete every user key.
/// </summary>
public sealed class SystemKeyspaceTests(ITestOutputHelper output)
{
    private const string App = "shop";
    private const string Env = "PRO";
    private const string Ns = "application";
    private static readonly TimeSpan LinesTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Etcdctl_del_from_key_deletes_every_user_key_and_the_center_still_serves_its_apps()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        await PublishAsync(node.Server, "port", "8080");
        await ReportAsync(node.Endpoint, "pod-1", 1);
        await Etcd.PutAsync(node.Endpoint, "a", "1");
        await Etcd.PutAsync(node.Endpoint, "b/c", "2");

        var all = await Etcdctl.RunAsync(node.Endpoint, "del", "", "--from-key");
        var slash = await Etcdctl.RunAsync(node.Endpoint, "del", "--prefix", "/");

        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal(["2"], all.Lines);
        Assert.True(slash.ExitCode == 0, slash.ToString());
        Assert.Equal(["0"], slash.Lines);
        Assert.Equal("", (await Etcdctl.RunAsync(node.Endpoint, "get", "", "--from-key")).Stdout);
        using var http = node.CreateHttpClient();
        Assert.Equal("8080", await EffectiveAsync(http, "port"));
        var apps = await http.GetFromJsonAsync<JsonElement>("/api/v1/apps");
        Assert.Contains(apps.EnumerateArray(), a => a.GetProperty("id").GetString() == App);
        var instances = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{App}/envs/{Env}/namespaces/{Ns}/instances");
        Assert.Contains("pod-1", instances.ToString(), StringComparison.Ordinal);

        // The center keeps writing after the wipe, and user keys start again where etcd's revision would be.
        await Server(node).GetRequiredService<ConfigCenterService>().SetItemAsync(App, Env, Ns, new ConfigItem("port", "9090"), 0, Who);
        await Server(node).GetRequiredService<ConfigCenterService>().PublishAsync(App, Env, Ns, "second", null, 0, Who);
        Assert.Equal("9090", await EffectiveAsync(http, "port"));
        Assert.Equal(5, await Etcd.PutAsync(node.Endpoint, "d", "4")); // 1, a, b/c, one delete, d
    }

    [Fact]
    public async Task Etcdctl_get_over_the_whole_keyspace_shows_user_keys_only()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        await PublishAsync(node.Server, "db.password", "s3cret");
        await ReportAsync(node.Endpoint, "pod-1", 1);
        await Etcd.PutAsync(node.Endpoint, "k", "v");

        var prefix = await Etcdctl.RunAsync(node.Endpoint, "get", "", "--prefix");
        var fromKey = await Etcdctl.RunAsync(node.Endpoint, "get", "", "--from-key");
        var count = await Etcdctl.RunAsync(node.Endpoint, "get", "", "--from-key", "--keys-only", "-w", "json");
        var oldPrefix = await Etcdctl.RunAsync(node.Endpoint, "get", "/_conclave/", "--prefix");

        Assert.Equal(["k", "v"], prefix.Lines);
        Assert.Equal(["k", "v"], fromKey.Lines);
        Assert.Equal(1, EtcdJson.Int(EtcdJson.Parse(count), "count"));
        Assert.Equal("", oldPrefix.Stdout);
        Assert.DoesNotContain("s3cret", prefix.Stdout + fromKey.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_whole_keyspace_watch_sees_no_center_events_when_a_release_is_published()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        await PublishAsync(node.Server, "port", "8080");
        var start = await Etcd.PutAsync(node.Endpoint, "before", "0") + 1;

        // From a revision, not from "now": the watch covers everything after `before` however late it starts.
        await using var watch = Etcdctl.Start(node.Endpoint, "watch", "", "--prefix", $"--rev={start}");
        await Server(node).GetRequiredService<ConfigCenterService>().SetItemAsync(App, Env, Ns, new ConfigItem("port", "9090"), 0, Who);
        await Server(node).GetRequiredService<ConfigCenterService>().PublishAsync(App, Env, Ns, "second", null, 0, Who);
        await ReportAsync(node.Endpoint, "pod-1", 2);
        var marker = await Etcd.PutAsync(node.Endpoint, "marker", "1");

        await watch.WaitForLinesAsync(["PUT", "marker", "1"], LinesTimeout);
        Assert.Equal(["PUT", "marker", "1"], watch.Lines);
        Assert.Equal(start, marker); // no revision was spent on the center's writes
    }

    [Fact]
    public async Task HashKV_is_equal_on_every_member_and_to_a_member_with_the_same_user_keys_and_no_center_data()
    {
        await using var cluster = await TestCluster.StartAsync(3, output);
        await using var plain = await TestNode.StartInProcessAsync(output);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = await cluster.FollowerAsync();

        // Center writes before, between and after the user's puts, through the leader and a follower.
        await Etcd.PutAsync(cluster.Endpoints[follower], "k1", "v1");
        await PublishAsync(cluster[leader], "port", "8080");
        await Etcd.PutAsync(cluster.Endpoints[leader], "k2", "v2");
        await ReportAsync(cluster.Endpoints[follower], "pod-1", 1);
        await cluster[follower].Services.GetRequiredService<ConfigCenterService>().SetItemAsync(App, Env, Ns, new ConfigItem("port", "9090"), 0, Who);
        await Etcd.PutAsync(cluster.Endpoints[follower], "k1", "v3");
        await cluster[leader].Services.GetRequiredService<ConfigCenterService>().PublishAsync(App, Env, Ns, "second", null, 0, Who);
        foreach (var (k, v) in new[] { ("k1", "v1"), ("k2", "v2"), ("k1", "v3") })
        {
            await Etcd.PutAsync(plain.Endpoint, k, v);
        }

        var expected = await HashAsync(plain.Endpoint);
        Assert.Equal(4, expected.Revision);
        for (var i = 0; i < cluster.Count; i++)
        {
            Assert.Equal(expected, await HashAsync(cluster.Endpoints[i]));
        }
    }

    [Fact]
    public async Task A_member_restarted_from_its_snapshot_keeps_both_keyspaces()
    {
        await using var cluster = await TestCluster.StartAsync(1, output, o => o with { SnapshotCount = 10 });
        await Etcd.PutAsync(cluster.Endpoints[0], "first", "1");
        await PublishAsync(cluster[0], "port", "8080");
        var centerIndex = cluster[0].Node.Store.AppliedIndex;
        for (var i = 0; i < 25; i++)
        {
            await Etcd.PutAsync(cluster.Endpoints[0], $"k{i % 5}", $"{i}");
        }

        // The center's writes are then only in a snapshot: the log replays from the snapshot's index on.
        var snapshots = Path.Combine(cluster[0].Node.Options.DataDirectory, "snap");
        await Eventually.WaitAsync(
            () => Directory.EnumerateFiles(snapshots, "snapshot-*.snap").Any(f => long.Parse(Path.GetFileName(f)[9..29], CultureInfo.InvariantCulture) > centerIndex),
            TimeSpan.FromSeconds(30),
            $"a snapshot past log index {centerIndex}");
        var store = cluster[0].Node.Store;
        var before = (store.Revision, store.SystemKeyspace.Revision, store.SystemKeyspace.KeyCount);
        await cluster.StopMemberAsync(0);
        await cluster.StartMemberAsync(0);

        store = cluster[0].Node.Store;
        Assert.Equal(before, (store.Revision, store.SystemKeyspace.Revision, store.SystemKeyspace.KeyCount));
        var all = await Etcdctl.RunAsync(cluster.Endpoints[0], "get", "", "--from-key");
        Assert.Equal(["first", "1", "k0", "20", "k1", "21", "k2", "22", "k3", "23", "k4", "24"], all.Lines);
        using var http = new HttpClient { BaseAddress = new Uri(cluster.HttpUrl(0)) };
        Assert.Equal("8080", await EffectiveAsync(http, "port"));
        await cluster[0].Services.GetRequiredService<ConfigCenterService>().SetItemAsync(App, Env, Ns, new ConfigItem("port", "9090"), 0, Who);
        await cluster[0].Services.GetRequiredService<ConfigCenterService>().PublishAsync(App, Env, Ns, "second", null, 0, Who);
        Assert.Equal("9090", await EffectiveAsync(http, "port"));
    }

    private static readonly ChangeContext Who = new("alice");

    private static IServiceProvider Server(TestNode node) => node.Server.Services;

    /// <summary>An app, environment and properties namespace with one item, published as release 1.</summary>
    private static async Task PublishAsync(ConclaveServer server, string key, string value)
    {
        var center = server.Services.GetRequiredService<ConfigCenterService>();
        await center.CreateAppAsync(App, null, null, Who);
        await center.CreateEnvironmentAsync(App, Env, Who);
        await center.CreateNamespaceAsync(App, Env, Ns, NamespaceFormat.Properties, null, Who);
        await center.SetItemAsync(App, Env, Ns, new ConfigItem(key, value), 0, Who);
        await center.PublishAsync(App, Env, Ns, "first", null, 0, Who);
    }

    /// <summary>A delivery report: a leased instance record in the center.</summary>
    private static async Task ReportAsync(string endpoint, string instance, long releaseId)
    {
        using var channel = GrpcChannel.ForAddress(endpoint);
        await new ConfigService.ConfigServiceClient(channel).ReportAsync(new ReportRequest
        {
            App = App, Env = Env, Namespace = Ns, Instance = new InstanceIdentity { InstanceId = instance }, ReleaseId = releaseId,
        });
    }

    private static async Task<string?> EffectiveAsync(HttpClient http, string key)
    {
        var effective = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{App}/envs/{Env}/namespaces/{Ns}/effective");
        return effective.GetProperty("release").GetProperty("configurations").GetProperty(key).GetString();
    }

    private static async Task<(uint Hash, long Revision, long CompactRevision)> HashAsync(string endpoint)
    {
        using var channel = GrpcChannel.ForAddress(endpoint);
        var response = await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        return (response.Hash, response.Header.Revision, response.CompactRevision);
    }
}

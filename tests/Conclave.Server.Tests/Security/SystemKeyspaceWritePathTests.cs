using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Config.V1;
using Conclave.Api.Election;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Conclave.Api.Mvcc;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// Every client write path (KV put / delete / txn, the JSON gateway, lease revoke, Lock / Unlock, Campaign /
/// Proclaim / Resign) aimed at the configuration center's keys — the very key strings it uses, the prefix they used to
/// live under, the whole keyspace — reaches user keys only (ADR 0012): the system keyspace is unchanged, key for key and
/// revision for revision, the center still serves the release as published, its apps list still answers, the instance
/// record keeps its lease. That lease is the system keyspace's: etcd's Lease API does not list, revoke, renew or show
/// it, and no user key can be attached to it ("requested lease not found", as for a lease that never existed).
/// </summary>
public sealed class SystemKeyspaceWritePathTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string App = "guarded";
    private const string Env = "DEV";
    private const string Ns = "application";

    private TestNode node = null!;
    private GrpcChannel channel = null!;
    private HttpClient http = null!;
    private ByteString releaseKey = ByteString.Empty;
    private long releaseCreateRevision;

    public async Task InitializeAsync()
    {
        node = await TestNode.StartInProcessAsync(output);
        channel = node.CreateChannel();
        http = node.CreateHttpClient();
        var center = node.Server.Services.GetRequiredService<ConfigCenterService>();
        var who = new ChangeContext("alice");
        await center.CreateAppAsync(App, null, null, who);
        await center.CreateEnvironmentAsync(App, Env, who);
        await center.CreateNamespaceAsync(App, Env, Ns, NamespaceFormat.Properties, null, who);
        await center.SetItemAsync(App, Env, Ns, new ConfigItem("db.password", "s3cret"), 0, who);
        var release = await center.PublishAsync(App, Env, Ns, "r1", null, 0, who);
        releaseKey = ConfigKeys.Release(App, Env, Ns, release.Id);
        releaseCreateRevision = SystemRange(releaseKey, ByteString.Empty).Single().CreateRevision;
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        channel.Dispose();
        await node.DisposeAsync();
    }

    public static TheoryData<string> Paths() =>
    [
        "kv put", "kv put with lease", "kv delete", "kv delete over everything", "kv delete the old prefix", "kv txn put", "kv nested txn delete", "kv put cluster record",
        "gateway put", "gateway delete", "gateway txn",
        "lease revoke", "lease keep-alive", "lease time-to-live", "lease list", "kv put with the center's lease", "lock with the center's lease",
        "lock", "unlock", "campaign", "proclaim", "resign",
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Write_path_aimed_at_the_center_s_keys_changes_nothing_in_the_system_keyspace(string path)
    {
        var kv = new KV.KVClient(channel);
        var leases = new Lease.LeaseClient(channel);
        var lease = (await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID;
        var instanceLease = (await new ConfigService.ConfigServiceClient(channel).ReportAsync(new ReportRequest
        {
            App = App, Env = Env, Namespace = Ns, Instance = new InstanceIdentity { InstanceId = "pod-1" }, ReleaseId = 1,
        })).LeaseId;
        var instanceKey = ConfigKeys.Instance(App, Env, Ns, "pod-1");
        var before = SystemRange(Bytes("\0"), Bytes("\0"));
        Assert.Contains(before, k => k.Key == instanceKey);
        var appsPrefix = ConfigKeys.Apps().ToStringUtf8().TrimEnd('/');
        var attacker = ByteString.CopyFromUtf8("attacker-controlled");

        (StatusCode code, string message) = path switch
        {
            "kv put" => await RpcAsync(() => kv.PutAsync(new PutRequest { Key = releaseKey, Value = attacker }).ResponseAsync),
            "kv put with lease" => await RpcAsync(() => kv.PutAsync(new PutRequest { Key = Bytes(ConfigKeys.Root + "apps/evil"), Value = attacker, Lease = lease }).ResponseAsync),
            "kv delete" => await RpcAsync(() => kv.DeleteRangeAsync(new DeleteRangeRequest { Key = releaseKey }).ResponseAsync),
            "kv delete over everything" => await RpcAsync(() => kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes("\0"), RangeEnd = Bytes("\0") }).ResponseAsync),
            "kv delete the old prefix" => await RpcAsync(() => kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes("/_conclave/"), RangeEnd = Bytes("/_conclave0") }).ResponseAsync),
            "kv txn put" => await RpcAsync(() => kv.TxnAsync(new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = releaseKey, Value = attacker } } } }).ResponseAsync),
            "kv nested txn delete" => await RpcAsync(() => kv.TxnAsync(new TxnRequest
            {
                Success = { new RequestOp { RequestTxn = new TxnRequest { Failure = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = releaseKey } } } } } },
            }).ResponseAsync),
            "kv put cluster record" => await RpcAsync(() => kv.PutAsync(new PutRequest { Key = Bytes("cluster/learners/00000000000000ff"), Value = attacker }).ResponseAsync),
            "gateway put" => await GatewayAsync("/v3/kv/put", new { key = B64(releaseKey), value = B64(attacker) }),
            "gateway delete" => await GatewayAsync("/v3/kv/deleterange", new { key = B64(releaseKey) }),
            "gateway txn" => await GatewayAsync("/v3/kv/txn", new { success = new[] { new { request_put = new { key = B64(releaseKey), value = B64(attacker) } } } }),
            "lease revoke" => await RpcAsync(() => leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = instanceLease }).ResponseAsync),
            "lease keep-alive" => await KeepAliveAsync(leases, instanceLease),
            "lease time-to-live" => await RpcAsync(async () =>
                Assert.Equal(-1, (await leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = instanceLease, Keys = true })).TTL)),
            "lease list" => await RpcAsync(async () =>
                Assert.DoesNotContain(instanceLease, (await leases.LeaseLeasesAsync(new LeaseLeasesRequest())).Leases.Select(l => l.ID))),
            "kv put with the center's lease" => await RpcAsync(() => kv.PutAsync(new PutRequest { Key = Bytes("borrowed"), Value = attacker, Lease = instanceLease }).ResponseAsync),
            "lock with the center's lease" => await RpcAsync(() => new Api.Lock.Lock.LockClient(channel).LockAsync(new LockRequest { Name = Bytes("mine"), Lease = instanceLease }, deadline: Soon()).ResponseAsync),
            "lock" => await RpcAsync(() => new Api.Lock.Lock.LockClient(channel).LockAsync(new LockRequest { Name = Bytes(appsPrefix), Lease = lease }, deadline: Soon()).ResponseAsync),
            "unlock" => await RpcAsync(() => new Api.Lock.Lock.LockClient(channel).UnlockAsync(new UnlockRequest { Key = releaseKey }).ResponseAsync),
            "campaign" => await RpcAsync(() => new Election.ElectionClient(channel).CampaignAsync(new CampaignRequest { Name = Bytes(appsPrefix), Lease = lease, Value = attacker }, deadline: Soon()).ResponseAsync),
            "proclaim" => await RpcAsync(() => new Election.ElectionClient(channel).ProclaimAsync(new ProclaimRequest
            {
                Leader = new LeaderKey { Name = Bytes(ConfigKeys.Releases(App, Env, Ns).ToStringUtf8().TrimEnd('/')), Key = releaseKey, Rev = releaseCreateRevision, Lease = lease },
                Value = attacker,
            }).ResponseAsync),
            "resign" => await RpcAsync(() => new Election.ElectionClient(channel).ResignAsync(new ResignRequest
            {
                Leader = new LeaderKey { Key = releaseKey, Rev = releaseCreateRevision, Lease = lease },
            }).ResponseAsync),
            _ => throw new ArgumentOutOfRangeException(nameof(path), path, null),
        };

        output.WriteLine($"{path}: {code} {message}");
        if (path is "lease revoke" or "kv put with the center's lease" or "lock with the center's lease")
        {
            Assert.Equal((StatusCode.NotFound, "etcdserver: requested lease not found"), (code, message));
        }
        else if (path.StartsWith("lease ", StringComparison.Ordinal))
        {
            Assert.Equal(StatusCode.OK, code);
        }

        var after = SystemRange(Bytes("\0"), Bytes("\0"));
        Assert.Equal(before.Select(k => (k.Key, k.ModRevision)), after.Select(k => (k.Key, k.ModRevision)));
        Assert.Equal(instanceLease, after.Single(k => k.Key == instanceKey).Lease);
        var effective = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{App}/envs/{Env}/namespaces/{Ns}/effective");
        Assert.Equal("s3cret", effective.GetProperty("release").GetProperty("configurations").GetProperty("db.password").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/v1/apps", UriKind.Relative))).StatusCode);
    }

    private static DateTime Soon() => DateTime.UtcNow.AddSeconds(10);

    private IReadOnlyList<KeyValue> SystemRange(ByteString key, ByteString end) =>
        node.Server.Node.Store.SystemKeyspace.Range(new RangeRequest { Key = key, RangeEnd = end }).Kvs;

    private static string B64(ByteString b) => b.ToBase64();

    /// <summary>The call's outcome: OK, or the status it failed with (several paths are refused for their own reasons, e.g. a recipe key's shape).</summary>
    private static async Task<(StatusCode, string)> RpcAsync(Func<Task> call) => await RpcAsync(async () =>
    {
        await call();
        return true;
    });

    /// <summary>etcd's keep-alive of the center's lease answers TTL 0, "no such lease", and renews nothing.</summary>
    private static async Task<(StatusCode, string)> KeepAliveAsync(Lease.LeaseClient leases, long leaseId)
    {
        using var call = leases.LeaseKeepAlive();
        await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(0, call.ResponseStream.Current.TTL);
        await call.RequestStream.CompleteAsync();
        return (StatusCode.OK, "");
    }

    private static async Task<(StatusCode, string)> RpcAsync<T>(Func<Task<T>> call)
    {
        try
        {
            await call();
            return (StatusCode.OK, "");
        }
        catch (RpcException e)
        {
            return (e.StatusCode, e.Status.Detail);
        }
    }

    private async Task<(StatusCode, string)> GatewayAsync(string path, object body)
    {
        using var response = await http.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (StatusCode.OK, "");
    }
}

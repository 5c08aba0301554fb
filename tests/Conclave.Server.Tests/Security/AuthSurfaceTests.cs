using Conclave.Api.Auth;
using Conclave.Api.Etcd;
using Conclave.Server.Security.Auth;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ElectionApi = Conclave.Api.Election;
using LockApi = Conclave.Api.Lock;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// Every etcd gRPC method with auth enabled (issue 20's table test): called with no credentials, a forged token, and a
/// valid user without the permission, each is refused with etcd's code and text, and nothing is written; called by
/// root, it gets past auth. The table must name every method of the services (a new method fails the test until it is
/// listed), so nothing is served unchecked by omission.
/// </summary>
public sealed class AuthSurfaceTests(ITestOutputHelper output)
{
    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    /// <summary>One method: how to call it against "secret/" keys, and whether anyone may call it (etcd's open calls).</summary>
    /// <remarks><c>AnyUser</c>: any authenticated user may call it (lease grant, keep-alive and list: etcd lets anyone).</remarks>
    private sealed record Row(string Method, Func<CallInvoker, Metadata, long, Task> Call, bool Open = false, bool RootSkips = false, bool AnyUser = false);

    private static async Task Drain<T>(IAsyncStreamReader<T> reader)
    {
        while (await reader.MoveNext(CancellationToken.None))
        {
        }
    }

    private static readonly Row[] Table =
    [
        new("KV/Range", (c, m, _) => new KV.KVClient(c).RangeAsync(new RangeRequest { Key = B("secret/a") }, m).ResponseAsync),
        new("KV/Put", (c, m, _) => new KV.KVClient(c).PutAsync(new PutRequest { Key = B("secret/a"), Value = B("x") }, m).ResponseAsync),
        new("KV/DeleteRange", (c, m, _) => new KV.KVClient(c).DeleteRangeAsync(new DeleteRangeRequest { Key = B("secret/"), RangeEnd = B("secret0") }, m).ResponseAsync),
        new("KV/Txn", (c, m, _) => new KV.KVClient(c).TxnAsync(new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = B("secret/t"), Value = B("x") } } } }, m).ResponseAsync),
        new("KV/Compact", (c, m, _) => new KV.KVClient(c).CompactAsync(new CompactionRequest { Revision = 1 }, m).ResponseAsync),
        new("Watch/Watch", WatchAsync),
        new("Lease/LeaseGrant", (c, m, _) => new Lease.LeaseClient(c).LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }, m).ResponseAsync, AnyUser: true),
        new("Lease/LeaseRevoke", (c, m, lease) => new Lease.LeaseClient(c).LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, m).ResponseAsync, RootSkips: true),
        new("Lease/LeaseKeepAlive", async (c, m, lease) =>
        {
            using var call = new Lease.LeaseClient(c).LeaseKeepAlive(m);
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease });
            await call.RequestStream.CompleteAsync();
            await Drain(call.ResponseStream);
        }, AnyUser: true),
        new("Lease/LeaseTimeToLive", (c, m, lease) => new Lease.LeaseClient(c).LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = lease, Keys = true }, m).ResponseAsync),
        new("Lease/LeaseLeases", (c, m, _) => new Lease.LeaseClient(c).LeaseLeasesAsync(new LeaseLeasesRequest(), m).ResponseAsync, AnyUser: true),
        new("Cluster/MemberAdd", (c, m, _) => new Api.Etcd.Cluster.ClusterClient(c).MemberAddAsync(new MemberAddRequest(), m).ResponseAsync),
        new("Cluster/MemberRemove", (c, m, _) => new Api.Etcd.Cluster.ClusterClient(c).MemberRemoveAsync(new MemberRemoveRequest { ID = 12345 }, m).ResponseAsync),
        new("Cluster/MemberUpdate", (c, m, _) => new Api.Etcd.Cluster.ClusterClient(c).MemberUpdateAsync(new MemberUpdateRequest { ID = 12345 }, m).ResponseAsync),
        new("Cluster/MemberList", (c, m, _) => new Api.Etcd.Cluster.ClusterClient(c).MemberListAsync(new MemberListRequest(), m).ResponseAsync, Open: true),
        new("Cluster/MemberPromote", (c, m, _) => new Api.Etcd.Cluster.ClusterClient(c).MemberPromoteAsync(new MemberPromoteRequest { ID = 12345 }, m).ResponseAsync),
        new("Maintenance/Alarm", (c, m, _) => new Maintenance.MaintenanceClient(c).AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, Alarm = AlarmType.Nospace }, m).ResponseAsync),
        new("Maintenance/Status", (c, m, _) => new Maintenance.MaintenanceClient(c).StatusAsync(new StatusRequest(), m).ResponseAsync, Open: true),
        new("Maintenance/Defragment", (c, m, _) => new Maintenance.MaintenanceClient(c).DefragmentAsync(new DefragmentRequest(), m).ResponseAsync),
        new("Maintenance/Hash", (c, m, _) => new Maintenance.MaintenanceClient(c).HashAsync(new HashRequest(), m).ResponseAsync),
        new("Maintenance/HashKV", (c, m, _) => new Maintenance.MaintenanceClient(c).HashKVAsync(new HashKVRequest(), m).ResponseAsync),
        new("Maintenance/Snapshot", async (c, m, _) =>
        {
            using var call = new Maintenance.MaintenanceClient(c).Snapshot(new SnapshotRequest(), m);
            await Drain(call.ResponseStream);
        }),
        new("Maintenance/MoveLeader", (c, m, _) => new Maintenance.MaintenanceClient(c).MoveLeaderAsync(new MoveLeaderRequest { TargetID = 1 }, m).ResponseAsync),
        new("Auth/AuthEnable", (c, m, _) => new Auth.AuthClient(c).AuthEnableAsync(new AuthEnableRequest(), m).ResponseAsync),
        new("Auth/AuthDisable", (c, m, _) => new Auth.AuthClient(c).AuthDisableAsync(new AuthDisableRequest(), m).ResponseAsync, RootSkips: true),
        new("Auth/AuthStatus", (c, m, _) => new Auth.AuthClient(c).AuthStatusAsync(new AuthStatusRequest(), m).ResponseAsync, Open: true),
        new("Auth/Authenticate", (c, m, _) => new Auth.AuthClient(c).AuthenticateAsync(new AuthenticateRequest { Name = "root", Password = "rootpw" }, m).ResponseAsync, Open: true),
        new("Auth/UserAdd", (c, m, _) => new Auth.AuthClient(c).UserAddAsync(new AuthUserAddRequest { Name = "eve-" + Guid.NewGuid().ToString("N")[..6], Password = "pw" }, m).ResponseAsync),
        new("Auth/UserGet", (c, m, _) => new Auth.AuthClient(c).UserGetAsync(new AuthUserGetRequest { Name = "root" }, m).ResponseAsync),
        new("Auth/UserList", (c, m, _) => new Auth.AuthClient(c).UserListAsync(new AuthUserListRequest(), m).ResponseAsync),
        new("Auth/UserDelete", (c, m, _) => new Auth.AuthClient(c).UserDeleteAsync(new AuthUserDeleteRequest { Name = "bob" }, m).ResponseAsync, RootSkips: true),
        new("Auth/UserChangePassword", (c, m, _) => new Auth.AuthClient(c).UserChangePasswordAsync(new AuthUserChangePasswordRequest { Name = "bob", Password = "x" }, m).ResponseAsync),
        new("Auth/UserGrantRole", (c, m, _) => new Auth.AuthClient(c).UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = "alice", Role = "root" }, m).ResponseAsync, RootSkips: true),
        new("Auth/UserRevokeRole", (c, m, _) => new Auth.AuthClient(c).UserRevokeRoleAsync(new AuthUserRevokeRoleRequest { Name = "alice", Role = "app" }, m).ResponseAsync, RootSkips: true),
        new("Auth/RoleAdd", (c, m, _) => new Auth.AuthClient(c).RoleAddAsync(new AuthRoleAddRequest { Name = "r-" + Guid.NewGuid().ToString("N")[..6] }, m).ResponseAsync),
        new("Auth/RoleGet", (c, m, _) => new Auth.AuthClient(c).RoleGetAsync(new AuthRoleGetRequest { Role = "secrets" }, m).ResponseAsync),
        new("Auth/RoleList", (c, m, _) => new Auth.AuthClient(c).RoleListAsync(new AuthRoleListRequest(), m).ResponseAsync),
        new("Auth/RoleDelete", (c, m, _) => new Auth.AuthClient(c).RoleDeleteAsync(new AuthRoleDeleteRequest { Role = "secrets" }, m).ResponseAsync, RootSkips: true),
        new("Auth/RoleGrantPermission", (c, m, _) => new Auth.AuthClient(c).RoleGrantPermissionAsync(
            new AuthRoleGrantPermissionRequest { Name = "app", Perm = new Permission { PermType = Permission.Types.Type.Readwrite, Key = B("secret/"), RangeEnd = B("secret0") } }, m).ResponseAsync, RootSkips: true),
        new("Auth/RoleRevokePermission", (c, m, _) => new Auth.AuthClient(c).RoleRevokePermissionAsync(new AuthRoleRevokePermissionRequest { Role = "app", Key = B("app/"), RangeEnd = B("app0") }, m).ResponseAsync, RootSkips: true),
        new("Lock/Lock", (c, m, lease) => new LockApi.Lock.LockClient(c).LockAsync(new LockApi.LockRequest { Name = B("secret/lock"), Lease = lease }, m).ResponseAsync, RootSkips: true),
        new("Lock/Unlock", (c, m, lease) => new LockApi.Lock.LockClient(c).UnlockAsync(new LockApi.UnlockRequest { Key = B($"secret/lock/{lease:x}") }, m).ResponseAsync),
        new("Election/Campaign", (c, m, lease) => new ElectionApi.Election.ElectionClient(c).CampaignAsync(new ElectionApi.CampaignRequest { Name = B("secret/el"), Lease = lease, Value = B("v") }, m).ResponseAsync, RootSkips: true),
        new("Election/Proclaim", (c, m, lease) => new ElectionApi.Election.ElectionClient(c).ProclaimAsync(
            new ElectionApi.ProclaimRequest { Leader = new ElectionApi.LeaderKey { Name = B("secret/el"), Key = B($"secret/el/{lease:x}"), Lease = lease, Rev = 1 }, Value = B("w") }, m).ResponseAsync),
        new("Election/Leader", (c, m, _) => new ElectionApi.Election.ElectionClient(c).LeaderAsync(new ElectionApi.LeaderRequest { Name = B("secret/el") }, m).ResponseAsync),
        new("Election/Observe", async (c, m, _) =>
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var call = new ElectionApi.Election.ElectionClient(c).Observe(new ElectionApi.LeaderRequest { Name = B("secret/el") }, m, cancellationToken: cancel.Token);
            try
            {
                await call.ResponseStream.MoveNext(cancel.Token);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
            {
                // Observing with nothing to report: got past auth.
            }
        }),
        new("Election/Resign", (c, m, lease) => new ElectionApi.Election.ElectionClient(c).ResignAsync(
            new ElectionApi.ResignRequest { Leader = new ElectionApi.LeaderKey { Name = B("secret/el"), Key = B($"secret/el/{lease:x}"), Lease = lease, Rev = 1 } }, m).ResponseAsync),
    ];

    /// <summary>A watch is refused on its create response (etcd's way), not by failing the stream.</summary>
    private static async Task WatchAsync(CallInvoker c, Metadata m, long _)
    {
        using var call = new Api.Etcd.Watch.WatchClient(c).Watch(m);
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("secret/"), RangeEnd = B("secret0") } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var created = call.ResponseStream.Current;
        if (created.Canceled)
        {
            // "rpc error: code = X desc = text", as etcd writes it: surfaced here as that status.
            var reason = created.CancelReason;
            var code = Enum.Parse<StatusCode>(reason.Split("code = ")[1].Split(' ')[0]);
            throw new RpcException(new Status(code, reason.Split("desc = ")[1]));
        }
    }

    [Fact]
    public void The_table_names_every_method_of_etcds_services()
    {
        var services = new[]
        {
            KV.Descriptor, Api.Etcd.Watch.Descriptor, Lease.Descriptor, Api.Etcd.Cluster.Descriptor, Maintenance.Descriptor, Auth.Descriptor,
            LockApi.Lock.Descriptor, ElectionApi.Election.Descriptor,
        };
        var methods = services.SelectMany(static s => s.Methods.Select(m => $"{s.Name}/{m.Name}")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(methods, Table.Select(static r => r.Method).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Every_method_refuses_no_credentials_a_forged_token_and_a_user_without_the_permission()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new AuthSettings { BcryptCost = 4 } });
        var e = node.Endpoint;
        foreach (var step in new[]
        {
            "user add root:rootpw", "user add alice:alicepw", "user add bob:bobpw", "role add app", "role add secrets",
            "role grant-permission app readwrite app/ --prefix", "user grant-role alice app", "auth enable",
        })
        {
            (await Etcdctl.RunAsync(e, step.Split(' '))).EnsureSuccess();
        }

        using var channel = GrpcChannel.ForAddress(e);
        var invoker = channel.CreateCallInvoker();
        var auth = new Auth.AuthClient(channel);
        var root = new Metadata { { Authenticator.TokenMetadata, (await auth.AuthenticateAsync(new AuthenticateRequest { Name = "root", Password = "rootpw" })).Token } };
        var aliceToken = (await auth.AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        var alice = new Metadata { { Authenticator.TokenMetadata, aliceToken } };
        var forged = new Metadata { { Authenticator.TokenMetadata, aliceToken[..^3] + "AAA" } };
        var lease = (await new Lease.LeaseClient(channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = 300 }, root)).ID;
        await new KV.KVClient(channel).PutAsync(new PutRequest { Key = B("secret/held"), Value = B("x"), Lease = lease }, root);
        var before = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = B("\0"), RangeEnd = B("\0") }, root);
        var usersBefore = (await auth.UserListAsync(new AuthUserListRequest(), root)).Users.ToList();

        var failures = new List<string>();
        foreach (var row in Table.Where(static r => !r.Open))
        {
            foreach (var (who, metadata, expected) in new[]
            {
                ("no credentials", new Metadata(), new[] { StatusCode.InvalidArgument, StatusCode.PermissionDenied }),
                ("a forged token", forged, [StatusCode.Unauthenticated]),
                ("alice", alice, [StatusCode.PermissionDenied]),
            }.Where(c => !(row.AnyUser && c.Item1 == "alice")))
            {
                var outcome = await OutcomeAsync(() => row.Call(invoker, metadata, lease));
                var refusedRight = outcome is { } rpc && expected.Contains(rpc.StatusCode) && rpc.Status.Detail is
                    "etcdserver: user name is empty" or "etcdserver: invalid auth token" or "etcdserver: permission denied";
                output.WriteLine($"{row.Method} as {who}: {(outcome is null ? "OK" : $"{outcome.StatusCode} {outcome.Status.Detail}")}");
                if (!refusedRight)
                {
                    failures.Add($"{row.Method} as {who}: {(outcome is null ? "succeeded" : $"{outcome.StatusCode} '{outcome.Status.Detail}'")}");
                }
            }
        }

        // Nothing refused was written.
        var after = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = B("\0"), RangeEnd = B("\0") }, root);
        Assert.Equal(before.Kvs, after.Kvs);
        Assert.Equal(usersBefore, (await auth.UserListAsync(new AuthUserListRequest(), root)).Users);
        Assert.True((await auth.AuthStatusAsync(new AuthStatusRequest())).Enabled);

        // Root gets past auth everywhere (other refusals, such as an unknown member id, are fine).
        foreach (var row in Table.Where(static r => !r.RootSkips))
        {
            var outcome = await OutcomeAsync(() => row.Call(invoker, root, lease));
            output.WriteLine($"{row.Method} as root: {(outcome is null ? "OK" : $"{outcome.StatusCode} {outcome.Status.Detail}")}");
            if (outcome is { StatusCode: StatusCode.Unauthenticated or StatusCode.PermissionDenied } || outcome?.Status.Detail == "etcdserver: user name is empty")
            {
                failures.Add($"{row.Method} as root: {outcome.StatusCode} '{outcome.Status.Detail}'");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static async Task<RpcException?> OutcomeAsync(Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }
}

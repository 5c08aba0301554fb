using Conclave.Api.Auth;
using Conclave.Api.Etcd;
using Conclave.Server.Security.Auth;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// Auth across members (ADR 0014): the store is replicated, a token issued by one member holds on every other, a
/// follower's write runs as its user on the leader's log, and a permission revoked on the leader refuses the follower's
/// next write; a member that restarts keeps the store (log and snapshot) and still accepts the cluster's tokens.
/// </summary>
public sealed class ClusterAuthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_token_from_one_member_works_on_every_member_and_revocation_reaches_them_all()
    {
        await using var cluster = await TestCluster.StartAsync(3, output, o => o with { Auth = new AuthSettings { BcryptCost = 4 }, SnapshotCount = 20 });
        var leader = await cluster.WaitForLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        var e = cluster.Endpoints[leader];
        foreach (var step in new[] { "user add root:rootpw", "user add alice:alicepw", "role add app", "role grant-permission app readwrite app/ --prefix", "user grant-role alice app", "auth enable" })
        {
            (await Etcdctl.RunAsync(e, step.Split(' '))).EnsureSuccess();
        }

        using var leaderChannel = GrpcChannel.ForAddress(cluster.Endpoints[leader]);
        var token = (await new Auth.AuthClient(leaderChannel).AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        var asAlice = new Metadata { { Authenticator.TokenMetadata, token } };

        // Every member checks the leader's token, and a follower's write runs as alice.
        for (var i = 0; i < 3; i++)
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            var kv = new KV.KVClient(channel);
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"app/{i}"), Value = ByteString.CopyFromUtf8("v") }, asAlice);
            var denied = await Assert.ThrowsAsync<RpcException>(() => kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"x/{i}") }, asAlice).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }

        // Revoked through the leader: the follower refuses alice's next write (apply-time check on every member).
        (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "user", "revoke-role", "alice", "app")).EnsureSuccess();
        using (var followerChannel = GrpcChannel.ForAddress(cluster.Endpoints[follower]))
        {
            var kv = new KV.KVClient(followerChannel);
            var denied = await Assert.ThrowsAsync<RpcException>(() => kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("app/after"), Value = ByteString.CopyFromUtf8("v") }, asAlice).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }

        // Enough writes for snapshots (every 20 entries), then a member restarts: the store comes back with it.
        (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "user", "grant-role", "alice", "app")).EnsureSuccess();
        for (var i = 0; i < 50; i++)
        {
            (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "put", $"fill/{i}", "x")).EnsureSuccess();
        }

        await cluster.StopMemberAsync(follower);
        await cluster.StartMemberAsync(follower);
        using (var restarted = GrpcChannel.ForAddress(cluster.Endpoints[follower]))
        {
            var status = await new Auth.AuthClient(restarted).AuthStatusAsync(new AuthStatusRequest());
            Assert.True(status.Enabled);
            var kv = new KV.KVClient(restarted);
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("app/restarted"), Value = ByteString.CopyFromUtf8("v") }, asAlice);
            var read = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("app/restarted") }, asAlice);
            Assert.Equal(1, read.Count);
        }
    }
}

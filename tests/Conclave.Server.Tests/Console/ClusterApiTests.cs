using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Conclave.Server.Tests.Fixtures;
using Google.Protobuf;

namespace Conclave.Server.Tests.Console;

/// <summary>The console's cluster API: status, leases, and the locks and elections held (etcd's recipe keys).</summary>
public sealed class ClusterApiTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Status_names_the_leader_term_indexes_and_health()
    {
        using var http = fixture.Node.CreateHttpClient();
        var status = await http.GetFromJsonAsync<JsonElement>("/api/v1/cluster");
        Assert.True(status.GetProperty("healthy").GetBoolean());
        Assert.True(status.GetProperty("isLeader").GetBoolean());
        Assert.Equal(status.GetProperty("memberId").GetString(), status.GetProperty("leaderId").GetString());
        Assert.True(status.GetProperty("term").GetInt64() >= 1);
        Assert.True(status.GetProperty("appliedIndex").GetInt64() >= 1);
        Assert.True(status.GetProperty("commitIndex").GetInt64() >= status.GetProperty("appliedIndex").GetInt64());
        var member = Assert.Single(status.GetProperty("members").EnumerateArray());
        Assert.Equal("test-node", member.GetProperty("name").GetString());
        Assert.True(member.GetProperty("isLeader").GetBoolean());
        Assert.Equal(fixture.Endpoint, member.GetProperty("clientUrls")[0].GetString());
    }

    [Fact]
    public async Task Leases_and_the_lock_they_hold_are_listed_with_the_fencing_token()
    {
        using var channel = fixture.Node.CreateChannel();
        var leases = new Lease.LeaseClient(channel);
        var holderLease = (await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID;
        var waiterLease = (await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID;
        var name = Keys.Unique("jobs");
        var locks = new Api.Lock.Lock.LockClient(channel);
        var held = await locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(name), Lease = holderLease });
        using var cancelWaiter = new CancellationTokenSource();
        var waiting = locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(name), Lease = waiterLease }, cancellationToken: cancelWaiter.Token);

        using var http = fixture.Node.CreateHttpClient();
        var lockView = await Eventually.WaitForAsync(
            async ct => (await http.GetFromJsonAsync<JsonElement>("/api/v1/cluster/locks", ct)).EnumerateArray().FirstOrDefault(l => l.GetProperty("name").GetString() == name),
            l => l.ValueKind == JsonValueKind.Object && l.GetProperty("waiters").GetArrayLength() == 1,
            Eventually.DefaultTimeout,
            "the lock with its holder and one waiter");
        Assert.Equal("lock", lockView.GetProperty("kind").GetString());
        Assert.Equal(held.Key.ToStringUtf8(), lockView.GetProperty("holder").GetProperty("key").GetString());
        Assert.Equal(holderLease.ToString("x"), lockView.GetProperty("holder").GetProperty("lease").GetString());
        Assert.Equal(held.Header.Revision, lockView.GetProperty("holder").GetProperty("createRevision").GetInt64());

        var leaseList = await http.GetFromJsonAsync<JsonElement>("/api/v1/cluster/leases");
        var holder = leaseList.EnumerateArray().Single(l => l.GetProperty("id").GetString() == holderLease.ToString("x"));
        Assert.Equal(60, holder.GetProperty("ttl").GetInt64());
        Assert.InRange(holder.GetProperty("remainingSeconds").GetInt64(), 1, 60);
        Assert.Equal([held.Key.ToStringUtf8()], holder.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));

        await cancelWaiter.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => waiting.ResponseAsync);
        await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = holderLease });
        await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = waiterLease });
        var after = await http.GetFromJsonAsync<JsonElement>("/api/v1/cluster/locks");
        Assert.DoesNotContain(after.EnumerateArray(), l => l.GetProperty("name").GetString() == name);
    }
}

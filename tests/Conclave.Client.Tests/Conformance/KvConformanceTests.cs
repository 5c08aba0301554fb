using Conclave.Client.Tests.Fixtures;
using Google.Protobuf;

namespace Conclave.Client.Tests.Conformance;

/// <summary>Key-value behaviour every etcd-v3-compatible server must show through the client.</summary>
public abstract class KvConformanceTests(KvEndpointFixture fixture)
{
    [Fact]
    public async Task Put_then_get_returns_value_and_metadata()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("put-get") + "k";

        var first = await client.PutAsync(key, "v1", cancellationToken: cts.Token);
        var second = await client.PutAsync(key, "v2", new PutOptions { PrevKv = true }, cts.Token);
        var read = await client.GetAsync(key, cancellationToken: cts.Token);

        Assert.True(first.Revision > 0);
        Assert.Null(first.PrevKv);
        Assert.Equal(first.Revision + 1, second.Revision);
        Assert.Equal("v1", second.PrevKv?.ValueString);
        var kv = Assert.Single(read.Kvs);
        Assert.Equal(key, kv.KeyString);
        Assert.Equal("v2", kv.ValueString);
        Assert.Equal(first.Revision, kv.CreateRevision);
        Assert.Equal(second.Revision, kv.ModRevision);
        Assert.Equal(2, kv.Version);
        Assert.Equal(0, kv.Lease);
        Assert.True(read.Revision >= second.Revision);
    }

    [Fact]
    public async Task Get_of_missing_key_is_an_empty_result()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();

        var read = await client.GetAsync(TestKeys.UniquePrefix("missing") + "nothing", cancellationToken: cts.Token);

        Assert.False(read.Found);
        Assert.Null(read.First);
        Assert.Equal(0, read.Count);
        Assert.True(read.Revision > 0);
    }

    [Fact]
    public async Task Prefix_get_honours_limit_sort_keys_only_and_count_only()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("prefix");
        foreach (var name in new[] { "b", "a", "c" })
        {
            await client.PutAsync(prefix + name, "value-" + name, cancellationToken: cts.Token);
        }

        // A sibling that shares the prefix minus its trailing slash must stay outside the range.
        await client.PutAsync(prefix.TrimEnd('/') + "0", "outside", cancellationToken: cts.Token);

        var all = await client.GetAsync(prefix, new GetOptions { Prefix = true }, cts.Token);
        var limited = await client.GetAsync(prefix, new GetOptions { Prefix = true, Limit = 2 }, cts.Token);
        var descending = await client.GetAsync(prefix, new GetOptions { Prefix = true, SortTarget = SortTarget.Key, SortOrder = SortOrder.Descend }, cts.Token);
        var keysOnly = await client.GetAsync(prefix, new GetOptions { Prefix = true, KeysOnly = true }, cts.Token);
        var countOnly = await client.GetAsync(prefix, new GetOptions { Prefix = true, CountOnly = true, Serializable = true }, cts.Token);

        Assert.Equal([prefix + "a", prefix + "b", prefix + "c"], all.Kvs.Select(kv => kv.KeyString));
        Assert.Equal(3, all.Count);
        Assert.Equal(2, limited.Kvs.Count);
        Assert.True(limited.More);
        Assert.Equal(3, limited.Count);
        Assert.Equal([prefix + "c", prefix + "b", prefix + "a"], descending.Kvs.Select(kv => kv.KeyString));
        Assert.All(keysOnly.Kvs, kv => Assert.True(kv.Value.IsEmpty));
        Assert.Empty(countOnly.Kvs);
        Assert.Equal(3, countOnly.Count);
    }

    [Fact]
    public async Task Binary_keys_and_prefix_end_with_0xff_bytes()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("binary");
        byte[] Key(params byte[] tail) => [.. System.Text.Encoding.UTF8.GetBytes(prefix), .. tail];

        await client.PutAsync(Key(0x01, 0xff), new byte[] { 1 }, cancellationToken: cts.Token);
        await client.PutAsync(Key(0x01, 0xff, 0x00), new byte[] { 2 }, cancellationToken: cts.Token);
        await client.PutAsync(ByteString.CopyFrom(Key(0x02)), ByteString.CopyFrom(3), cancellationToken: cts.Token);

        var ranged = await client.GetAsync(Key(0x01, 0xff), new GetOptions { Prefix = true }, cts.Token);

        Assert.Equal([1, 2], ranged.Kvs.Select(kv => (int)kv.Value.Span[0]));
    }

    [Fact]
    public async Task Get_at_an_older_revision_sees_the_older_value()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("history") + "k";
        var v1 = await client.PutAsync(key, "v1", cancellationToken: cts.Token);
        await client.PutAsync(key, "v2", cancellationToken: cts.Token);

        var old = await client.GetAsync(key, new GetOptions { Revision = v1.Revision }, cts.Token);

        Assert.Equal("v1", old.First?.ValueString);
    }

    [Fact]
    public async Task Delete_single_and_prefix_with_previous_values()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("delete");
        await client.PutAsync(prefix + "a", "1", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "b", "2", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "c", "3", cancellationToken: cts.Token);

        var single = await client.DeleteAsync(prefix + "a", new DeleteOptions { PrevKv = true }, cts.Token);
        var missing = await client.DeleteAsync(prefix + "a", cancellationToken: cts.Token);
        var rest = await client.DeleteAsync(prefix, new DeleteOptions { Prefix = true, PrevKv = true }, cts.Token);
        var after = await client.GetAsync(prefix, new GetOptions { Prefix = true }, cts.Token);

        Assert.Equal(1, single.Deleted);
        Assert.Equal("1", Assert.Single(single.PrevKvs).ValueString);
        Assert.Equal(0, missing.Deleted);
        Assert.Equal(2, rest.Deleted);
        Assert.Equal(["2", "3"], rest.PrevKvs.Select(kv => kv.ValueString));
        Assert.False(after.Found);
    }

    [Fact]
    public async Task Txn_runs_the_branch_its_comparisons_choose()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("txn") + "mode";

        // Create-if-absent: version 0 means the key does not exist.
        var created = await client.Txn()
            .If(Compare.Version(key).EqualTo(0))
            .Then(Op.Put(key, "blue"))
            .Else(Op.Get(key))
            .CommitAsync(cts.Token);
        var again = await client.Txn()
            .If(Compare.Version(key).EqualTo(0))
            .Then(Op.Put(key, "red"))
            .Else(Op.Get(key))
            .CommitAsync(cts.Token);
        var swapped = await client.Txn()
            .If(Compare.Value(key).EqualTo("blue"), Compare.ModRevision(key).EqualTo(created.Revision))
            .Then(Op.Put(key, "green", new PutOptions { PrevKv = true }), Op.Get(key))
            .CommitAsync(cts.Token);
        var noBranch = await client.Txn()
            .If(Compare.Value(key).EqualTo("blue"))
            .Then(Op.Delete(key))
            .CommitAsync(cts.Token);

        Assert.True(created.Succeeded);
        Assert.IsType<PutResult>(Assert.Single(created.Responses));
        Assert.False(again.Succeeded);
        Assert.Equal("blue", Assert.IsType<GetResult>(Assert.Single(again.Responses)).First?.ValueString);
        Assert.True(swapped.Succeeded);
        Assert.Equal("blue", Assert.IsType<PutResult>(swapped.Responses[0]).PrevKv?.ValueString);
        Assert.Equal("green", Assert.IsType<GetResult>(swapped.Responses[1]).First?.ValueString);
        Assert.False(noBranch.Succeeded);
        Assert.Empty(noBranch.Responses);
    }

    [Fact]
    public async Task Compaction_makes_old_revisions_a_typed_error()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("compact") + "k";
        var v1 = await client.PutAsync(key, "v1", cancellationToken: cts.Token);
        var v2 = await client.PutAsync(key, "v2", cancellationToken: cts.Token);

        await client.CompactAsync(v2.Revision, physical: true, cancellationToken: cts.Token);

        var compacted = await Assert.ThrowsAsync<CompactedRevisionException>(
            async () => await client.GetAsync(key, new GetOptions { Revision = v1.Revision }, cts.Token));
        var future = await Assert.ThrowsAsync<FutureRevisionException>(
            async () => await client.GetAsync(key, new GetOptions { Revision = v2.Revision + 1_000_000 }, cts.Token));
        var recompact = await Assert.ThrowsAsync<CompactedRevisionException>(
            async () => await client.CompactAsync(v1.Revision, cancellationToken: cts.Token));
        var current = await client.GetAsync(key, new GetOptions { Revision = v2.Revision }, cts.Token);

        Assert.Equal(v1.Revision, compacted.RequestedRevision);
        Assert.Equal(Grpc.Core.StatusCode.OutOfRange, compacted.StatusCode);
        Assert.Contains("compacted", compacted.ServerMessage, StringComparison.Ordinal);
        Assert.Equal(v2.Revision + 1_000_000, future.RequestedRevision);
        Assert.Equal(v1.Revision, recompact.RequestedRevision);
        Assert.Equal("v2", current.First?.ValueString);
    }

    [Fact]
    public async Task Invalid_requests_raise_typed_exceptions()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("invalid");

        var emptyKey = await Assert.ThrowsAsync<InvalidRequestException>(async () => await client.PutAsync(string.Empty, "v", cancellationToken: cts.Token));
        var tooMany = await Assert.ThrowsAsync<InvalidRequestException>(async () =>
            await client.TxnAsync([], Enumerable.Range(0, 200).Select(i => Op.Put(prefix + i, "v")), [], cts.Token));
        var duplicate = await Assert.ThrowsAsync<InvalidRequestException>(async () =>
            await client.TxnAsync([], [Op.Put(prefix + "same", "1"), Op.Put(prefix + "same", "2")], [], cts.Token));
        var lease = await Assert.ThrowsAsync<LeaseNotFoundException>(async () =>
            await client.PutAsync(prefix + "leased", "v", new PutOptions { Lease = 0x1234 }, cts.Token));

        Assert.Equal(InvalidRequestReason.KeyNotProvided, emptyKey.Reason);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, emptyKey.StatusCode);
        Assert.Equal(InvalidRequestReason.TooManyOperations, tooMany.Reason);
        Assert.Equal(InvalidRequestReason.DuplicateKey, duplicate.Reason);
        Assert.Equal(0x1234, lease.LeaseId);
    }

    [Fact]
    public async Task Status_members_and_alarms_describe_the_cluster()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();

        var status = await client.StatusAsync(fixture.Endpoints[0], cts.Token);
        var members = await client.MemberListAsync(cts.Token);
        var alarms = await client.AlarmListAsync(cts.Token);

        Assert.NotEqual(0UL, status.MemberId);
        Assert.True(status.IsLeader);
        Assert.False(string.IsNullOrEmpty(status.Version));
        Assert.True(status.DbSize > 0);
        Assert.True(status.RaftIndex > 0);
        Assert.True(status.RaftTerm > 0);
        Assert.Empty(status.Errors);
        var member = Assert.Single(members);
        Assert.Equal(status.MemberId, member.Id);
        // etcd lists http://host:port, Conclave host:port (see its ClusterService): the same address either way.
        Assert.Contains(member.ClientUrls, url => HostPort(url) == HostPort(fixture.Endpoints[0]));
        Assert.Empty(alarms);
        await Assert.ThrowsAsync<ArgumentException>(async () => await client.StatusAsync("127.0.0.1:1", cts.Token));
    }

    [Fact]
    public async Task A_dead_home_endpoint_fails_over_to_the_next()
    {
        using var cts = TestKeys.Timeout();
        var dead = $"127.0.0.1:{FreePorts.Take(1)[0]}";
        string[] endpoints = [dead, .. fixture.Endpoints];

        // An instance id whose home on the hash ring is the dead endpoint.
        var ring = new Conclave.Client.Internal.HashRing([.. endpoints.Select(Conclave.Client.Internal.ClientEndpoint.Normalize)]);
        var instanceId = Enumerable.Range(0, 1000).Select(i => $"pod-{i}").First(id => ring.Home(id) == 0);
        await using var client = fixture.CreateClient(o => o with { Endpoints = endpoints, InstanceId = instanceId });
        var key = TestKeys.UniquePrefix("failover") + "k";

        // Writes fail over too when the connection was refused: the request never reached a server.
        var put = await client.PutAsync(key, "v", cancellationToken: cts.Token);
        var read = await client.GetAsync(key, cancellationToken: cts.Token);

        Assert.True(put.Revision > 0);
        Assert.Equal("v", read.First?.ValueString);
    }

    [Fact]
    public async Task No_reachable_endpoint_is_a_typed_error()
    {
        using var cts = TestKeys.Timeout();
        var dead = $"127.0.0.1:{FreePorts.Take(1)[0]}";
        await using var client = fixture.CreateClient(o => o with { Endpoints = [dead], MaxAttempts = 2 });

        var error = await Assert.ThrowsAsync<EndpointUnavailableException>(async () => await client.GetAsync("k", cancellationToken: cts.Token));

        Assert.Equal("http://" + dead, error.Endpoint);
    }

    private static string HostPort(string url) => url.Replace("http://", "", StringComparison.OrdinalIgnoreCase).TrimEnd('/');
}

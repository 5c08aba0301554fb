using System.Net;
using System.Net.Http.Json;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Cluster;

/// <summary>A member left without a quorum refuses with errors that say why: etcd's over gRPC, 503 over HTTP.</summary>
public sealed class MinorityErrorTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_member_without_a_quorum_answers_no_leader_over_grpc_and_503_over_the_http_api()
    {
        await using var cluster = await TestCluster.StartAsync(3, output);
        var leader = await cluster.WaitForLeaderAsync();
        var alone = Enumerable.Range(0, 3).First(i => i != leader);
        foreach (var i in Enumerable.Range(0, 3).Where(i => i != alone))
        {
            await cluster.StopMemberAsync(i);
        }

        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[alone]);
        var put = await Assert.ThrowsAsync<RpcException>(() => new KV.KVClient(channel).PutAsync(
            new PutRequest { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8("v") },
            deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, put.StatusCode);
        Assert.Equal("etcdserver: no leader", put.Status.Detail);
        Assert.Equal("true", put.Trailers.GetValue("conclave-not-applied"));

        using var http = new HttpClient { BaseAddress = new Uri(cluster.HttpUrl(alone)), Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/apps") { Content = JsonContent.Create(new { id = "orders", name = "Orders", owner = "team" }) };
        request.Headers.Add("X-Conclave-Author", "test");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("leader", body, StringComparison.OrdinalIgnoreCase);
        Assert.True(response.Headers.RetryAfter is not null);
    }
}

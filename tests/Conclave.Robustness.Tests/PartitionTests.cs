using System.Diagnostics;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>
/// A network partition of real member processes (one network namespace each): the leader is cut off from the
/// other two while clients keep talking to all three. Once in plain text, once with TLS on every listener and between
/// members (client certificates required everywhere): a TLS member behaves the same when its peers vanish and return.
/// </summary>
public sealed class PartitionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("plain text")]
    [InlineData("TLS")]
    public async Task A_partitioned_leader_refuses_while_the_majority_serves_and_everything_converges_on_heal(string transport)
    {
        using var network = NamespaceNetwork.Create(3);
        using var certificates = transport == "TLS" ? new TestCertificates() : null;
        await using var cluster = await ProcessCluster.StartAsync(
            3,
            i => new MemberPlacement(network.Host(i), [2379, 2381, 2380], network.Launcher(i)),
            output,
            // A private test network of namespaces: plain text off loopback, which a member refuses unless told. With TLS
            // and client certificates on every listener (peers included) it needs no such flag.
            certificates is null ? ["--insecure-listen"] : [],
            certificates);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        await using var workload = new WriteWorkload(cluster.Endpoints, 6, cluster.Connect);
        await using var registers = new RegisterWorkload(cluster.Endpoints, clientCount: 6, keyCount: 20, cluster.Connect);
        await workload.WaitForAcksAsync(100);
        var leader = await cluster.WaitForLeaderAsync();

        network.Isolate(leader);
        var healed = false;
        try
        {
            var next = await cluster.WaitForLeaderAsync(skip: [leader], timeout: TimeSpan.FromSeconds(30));
            Assert.NotEqual(leader, next);
            await workload.WaitForAcksAsync(workload.AckCount + 100);
            output.WriteLine($"majority elected m{next + 1} while m{leader + 1} was cut off; writes continue ({workload.AckCount} acknowledged)");

            // The minority side refuses, with an error that says why, rather than answering stale or hanging.
            using var channel = cluster.Connect(cluster[leader].Endpoint);
            var kv = new KV.KVClient(channel);
            var clock = Stopwatch.StartNew();
            var write = await Assert.ThrowsAsync<RpcException>(() => kv.PutAsync(
                new PutRequest { Key = ByteString.CopyFromUtf8("minority"), Value = ByteString.CopyFromUtf8("x") },
                deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
            output.WriteLine($"write on the minority: {write.StatusCode} \"{write.Status.Detail}\" after {clock.ElapsedMilliseconds} ms");
            Assert.Contains(write.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
            Assert.False(string.IsNullOrWhiteSpace(write.Status.Detail));

            clock.Restart();
            var read = await Assert.ThrowsAsync<RpcException>(() => kv.RangeAsync(
                new RangeRequest { Key = ByteString.CopyFromUtf8("reg/00") },
                deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
            output.WriteLine($"linearizable read on the minority: {read.StatusCode} \"{read.Status.Detail}\" after {clock.ElapsedMilliseconds} ms");
            Assert.Contains(read.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });

            network.Heal(leader);
            healed = true;
        }
        finally
        {
            if (!healed)
            {
                network.Heal(leader);
            }
        }

        await Eventually.WaitAsync(
            async ct =>
            {
                var status = await cluster.StatusAsync(leader, ct);
                return status.Leader != 0 && status.Leader != status.Header.MemberId;
            },
            TimeSpan.FromSeconds(30),
            "the healed old leader follows the new one");
        await workload.WaitForAcksAsync(workload.AckCount + 100);
        await workload.StopAsync();
        await registers.StopAsync();

        TermLeaders.AssertOneLeaderPerTerm(cluster, output);
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output, cluster.Connect);
        var history = registers.Recorder.History();
        var result = Conclave.Testing.Linearizability.LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(60));
        output.WriteLine($"linearizability of {history.Count} operations: {result.Verdict}");
        Assert.True(result.IsLinearizable, result.Report);
    }
}

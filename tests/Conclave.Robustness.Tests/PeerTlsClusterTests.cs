using System.Diagnostics;
using Conclave.Api.Etcd;
using Grpc.Core;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Real member processes with TLS everywhere: client and HTTP listeners with <c>--client-cert-auth</c>, and between
/// members <c>https://</c> peer URLs with <c>--peer-client-cert-auth</c>, every member holding its own certificate from
/// one CA. Raft, forwarded writes and read indexes (the request channel), snapshot fetches and a learner's feed all
/// run over peer TLS here.
/// </summary>
public sealed class PeerTlsClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates certificates = new();

    public void Dispose() => certificates.Dispose();

    [Fact]
    public async Task A_TLS_cluster_survives_a_killed_leader_and_the_restarted_member_catches_up_by_snapshot()
    {
        // Small snapshots: the killed leader's log position is compacted away while it is down, so it must fetch a
        // snapshot image over the peer listener's snapshot channel when it comes back.
        await using var cluster = await ProcessCluster.StartAsync(3, output, ["--snapshot-count", "100"], certificates);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        Assert.All(Enumerable.Range(0, cluster.Count), i => Assert.StartsWith("https://", cluster[i].PeerUrl, StringComparison.Ordinal));
        var leader = await cluster.WaitForLeaderAsync();
        await using var workload = new WriteWorkload(cluster.Endpoints, 6, cluster.Connect);
        await workload.WaitForAcksAsync(200);

        var term = (await cluster.StatusAsync(leader)).RaftTerm;
        var behindFrom = (await cluster.StatusAsync(leader)).RaftIndex;
        var killedAt = Stopwatch.GetTimestamp();
        cluster[leader].Kill();
        long? firstAck = null;
        await Eventually.WaitAsync(
            _ => Task.FromResult((firstAck = workload.FirstAckAfter(killedAt, term)) is not null),
            TimeSpan.FromSeconds(20),
            $"after the leader (m{leader + 1}, term {term}) was killed, a write is acknowledged by a new leader");
        var next = await cluster.WaitForLeaderAsync(skip: [leader]);
        output.WriteLine($"killed leader m{leader + 1}; m{next + 1} leads, first write acknowledged {Stopwatch.GetElapsedTime(killedAt, firstAck!.Value).TotalMilliseconds:F0} ms later");

        await LogStart.WaitPastAsync(cluster, leader, (long)behindFrom, TimeSpan.FromSeconds(60));
        await cluster[leader].RestartWithoutWaitingAsync();
        await cluster[leader].WaitUntilHealthyAsync();
        await Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(leader, ct)).RaftAppliedIndex + 200 >= (await cluster.StatusAsync(next, ct)).RaftIndex,
            TimeSpan.FromSeconds(60),
            "the restarted member to catch up with the leader while writes continue");
        var installs = cluster[leader].ReadLog().Split("Installing snapshot", StringSplitOptions.None).Length - 1;
        output.WriteLine($"the restarted member installed {installs} snapshot(s)");
        Assert.True(installs > 0, "the restarted member should have caught up by a snapshot fetched over peer TLS");

        await workload.WaitForAcksAsync(workload.AckCount + 200);
        await workload.StopAsync();
        output.WriteLine($"{workload.AckCount} writes acknowledged, {workload.Failures} failed or unknown");
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output, cluster.Connect);
        AssertNoPeerTlsRefusals(cluster);
    }

    [Fact]
    public async Task A_learner_joins_a_TLS_cluster_over_https_and_a_plain_text_peer_url_is_refused()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, output, ["--snapshot-count", "200"], certificates);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        var leader = await cluster.WaitForLeaderAsync();
        await using var workload = new WriteWorkload(cluster.Endpoints, 4, cluster.Connect);
        await workload.WaitForAcksAsync(300);
        var follower = Enumerable.Range(0, 3).First(i => i != leader);

        // Members all speak TLS or none does: an http:// peer URL is refused with the reason.
        using (var channel = cluster.Connect(cluster.Endpoints[follower]))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => new Api.Etcd.Cluster.ClusterClient(channel)
                .MemberAddAsync(new MemberAddRequest { PeerURLs = { "http://127.0.0.1:1" }, IsLearner = true }).ResponseAsync);
            var detail = refused.Trailers.GetValue("conclave-detail");
            output.WriteLine($"member add http://: {refused.StatusCode} \"{refused.Status.Detail}\" ({detail})");
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            Assert.Contains("speak TLS to each other", detail, StringComparison.Ordinal);
        }

        var learner = await cluster.StartJoiningMemberAsync(output);
        Assert.StartsWith("https://", cluster[learner].PeerUrl, StringComparison.Ordinal);
        using (var channel = cluster.Connect(cluster.Endpoints[follower]))
        {
            var added = await new Api.Etcd.Cluster.ClusterClient(channel)
                .MemberAddAsync(new MemberAddRequest { PeerURLs = { cluster[learner].PeerUrl }, IsLearner = true });
            output.WriteLine($"member add --learner {cluster[learner].PeerUrl}: id {added.Member.ID:x}");
        }

        // Its feed (the request channel) and the snapshot it starts from both come over peer TLS.
        await cluster[learner].WaitUntilHealthyAsync();
        await Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(learner, ct)).RaftAppliedIndex + 100 >= (await cluster.StatusAsync(leader, ct)).RaftIndex,
            TimeSpan.FromSeconds(60),
            "the learner to follow the leader under writes");
        Assert.True((await cluster.StatusAsync(learner)).IsLearner);
        await workload.StopAsync();
        AssertNoPeerTlsRefusals(cluster);
    }

    /// <summary>No member refused another's certificate, nor failed a handshake towards one (the peer TLS Warnings).</summary>
    private void AssertNoPeerTlsRefusals(ProcessCluster cluster)
    {
        for (var i = 0; i < cluster.Count; i++)
        {
            var refusals = cluster[i].ReadLog().Split('\n')
                .Where(static l => l.Contains("refused a TLS connection", StringComparison.Ordinal) || l.Contains("failed in the TLS handshake", StringComparison.Ordinal))
                .ToList();
            foreach (var line in refusals)
            {
                output.WriteLine($"m{i + 1}: {line}");
            }

            Assert.Empty(refusals);
        }
    }
}

using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Etcdctl;

/// <summary><c>etcdctl elect</c>: two candidate processes and an observer (<c>elect -l</c>).</summary>
public sealed class EtcdctlElectTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Observer_sees_the_first_leader_then_the_second_after_the_first_resigns()
    {
        var name = Names.Unique("ctl-elect");
        await using var client = fixture.CreateClient();
        await using var observer = Testing.Etcdctl.Start(Endpoint, "elect", "-l", name);
        await using var first = Testing.Etcdctl.Start(Endpoint, "elect", name, "proposal-one");
        var firstKey = await first.WaitForLineAsync(l => l.StartsWith(name + "/", StringComparison.Ordinal), Deadline, "the first leader key");
        await first.WaitForLinesAsync([firstKey, "proposal-one"], Deadline);
        await observer.WaitForLinesAsync([firstKey, "proposal-one"], Deadline);

        await using var second = Testing.Etcdctl.Start(Endpoint, "elect", name, "proposal-two");
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new Client.GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second candidate to queue");
        Assert.Empty(second.Lines);
        Assert.Equal("proposal-one", (await client.LeaderAsync(name))!.ValueString);

        // SIGINT makes etcdctl resign, handing leadership to the next candidate.
        Signals.Send(first.Pid, Signals.SigInt);
        var secondKey = await second.WaitForLineAsync(l => l.StartsWith(name + "/", StringComparison.Ordinal), Deadline, "the second leader key");
        await second.WaitForLinesAsync([secondKey, "proposal-two"], Deadline);
        await observer.WaitForLinesAsync([firstKey, "proposal-one", secondKey, "proposal-two"], Deadline);
        await first.WaitForExitAsync(Deadline);

        var leader = (await client.LeaderAsync(name))!;
        Assert.Equal((secondKey, "proposal-two"), (leader.KeyString, leader.ValueString));
        Assert.True(leader.CreateRevision > (await client.GetAsync(firstKey, new Client.GetOptions { Revision = leader.CreateRevision - 1 })).First!.CreateRevision);
    }
}

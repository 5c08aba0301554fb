namespace Conclave.Cluster.Tests;

/// <summary>
/// A one-member cluster keeps almost none of the log's applied payloads in memory: no follower or learner reads them
/// (ADR 0017). The cache itself, and what happens once a member reads the log, is covered by <c>RaftLogTests</c>.
/// </summary>
public sealed class LogCacheTests
{
    [Fact]
    public async Task A_member_alone_keeps_almost_no_applied_payloads_in_memory()
    {
        await using var member = new TestMember();
        var machine = new RecordingStateMachine();
        var node = await member.StartAsync(machine);
        for (var round = 0; round < 30; round++)
        {
            // About 6 MB in all, well past the alone budget and inside the default 64 MiB cache.
            await Task.WhenAll(Enumerable.Range(round * 100, 100).Select(i =>
                node.ProposeAsync(RecordingStateMachine.Put($"{i:D6}-{new string('x', 2000)}")).AsTask()));
        }

        Assert.True(node.LogResidentBytes <= RaftLog.AloneCacheBytes + (64 * 1024),
            $"{node.LogResidentBytes} payload bytes of the log in memory on a member alone");
    }
}

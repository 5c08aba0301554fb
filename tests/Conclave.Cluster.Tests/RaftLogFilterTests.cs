using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Tests;

/// <summary>What an operator reads while a member is down or a follower fetches a snapshot.</summary>
public sealed class RaftLogFilterTests
{
    [Fact]
    public void A_repeating_warning_is_logged_once_per_window_with_the_count_left_out()
    {
        var records = new RecordingLoggerFactory();
        var clock = new ManualTime();
        var logger = new RaftLogFilter(records, clock).CreateLogger("DotNext.Net.Cluster.Consensus.Raft.RaftCluster");
        var unavailable = new EventId(74010, "DotNext.Net.Cluster.MemberUnavailable");

        for (var i = 0; i < 500; i++)
        {
            logger.Log(LogLevel.Warning, unavailable, "Cluster member 127.0.0.1:1 is unavailable", new IOException("refused"), static (s, _) => s);
        }

        logger.Log(LogLevel.Warning, unavailable, "Cluster member 127.0.0.1:2 is unavailable", null, static (s, _) => s);
        Assert.Equal(2, records.Records.Count);

        clock.Advance(RaftLogFilter.Window);
        logger.Log(LogLevel.Warning, unavailable, "Cluster member 127.0.0.1:1 is unavailable", null, static (s, _) => s);
        var last = records.Records.ToArray()[^2..];
        Assert.Equal("499 more like the next message in the last 10 s were not logged", last[0].Message);
        Assert.Equal("Cluster member 127.0.0.1:1 is unavailable", last[1].Message);

        // Other events pass untouched.
        for (var i = 0; i < 3; i++)
        {
            logger.Log(LogLevel.Warning, new EventId(74022), "Timeout occurred", null, static (s, _) => s);
        }

        Assert.Equal(7, records.Records.Count);
    }

    [Fact]
    public void A_followers_not_yet_answer_to_install_snapshot_is_debug()
    {
        var records = new RecordingLoggerFactory();
        var logger = new RaftLogFilter(records, TimeProvider.System).CreateLogger("GenericServer");
        logger.Log(LogLevel.Error, new EventId(74028), "Failed to process request", new InvalidOperationException("wrapped", new SnapshotNotReadyException(5, 1, 10)), static (s, _) => s);
        Assert.Empty(records.Records); // the recording logger keeps Information and above
        logger.Log(LogLevel.Error, new EventId(74028), "Failed to process request", new IOException("disk"), static (s, _) => s);
        Assert.Single(records.Records);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => ticks;

        public void Advance(TimeSpan by) => ticks += by.Ticks;
    }
}

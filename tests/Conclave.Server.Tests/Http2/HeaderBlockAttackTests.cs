using Conclave.Server.Http2;
using Conclave.Server.Tests.Fixtures;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Issue 18 item 3 against a real member on its gRPC port: header blocks built to make the listener's :authority
/// pre-parser (ADR 0005) decode or buffer without bound. Each is refused the way Kestrel refuses it, and the
/// process's resident memory does not grow with the attack.
/// </summary>
[Collection(MemoryMeasuringCollection.Name)]
public sealed class HeaderBlockAttackTests(ITestOutputHelper output)
{
    private const long MaxGrowth = 64L * 1024 * 1024;
    private const long UnfinishedBlocksMaxGrowth = 100L * 1024 * 1024;
    private const int FrameSize = 16384;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_header_block_bomb_is_refused_with_bounded_memory(bool urlAuthority, bool afterAnotherRequest)
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var authority = urlAuthority ? node.Endpoint : new Uri(node.Endpoint).Authority;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var connection = await RawHttp2Connection.OpenAsync(node.Endpoint, timeout.Token);
        var bytes = new List<byte>();
        var streamId = 1;
        if (afterAnotherRequest)
        {
            // A URL :authority puts the connection in rewrite mode: every later block is decoded by the pre-parser.
            bytes.AddRange(RawHttp2Connection.HeaderFrames(streamId, [.. RequestBlocks.Request(authority)], endStream: true));
            streamId += 2;
        }

        // 56 frames of 16 KiB, as the reviewer sent: 917 KB that decode to 3.7 GB.
        bytes.AddRange(RawHttp2Connection.HeaderFrames(streamId, RequestBlocks.Bomb(authority, 56 * FrameSize)));

        await using var memory = MemoryPeak.Start();
        var sending = SendUntilClosedAsync(connection, [.. bytes], timeout.Token);
        var goAway = await connection.ReadUntilClosedAsync(timeout.Token);
        await sending;

        output.WriteLine($"GOAWAY {goAway?.ToString() ?? "(none)"}; memory: {memory}");
        Assert.True(memory.Growth < MaxGrowth, memory.ToString());
        Assert.Contains(goAway, new Http2ErrorCode?[] { Http2ErrorCode.ProtocolError, Http2ErrorCode.CompressionError });
        var counter = afterAnotherRequest ? "conclave_grpc_header_blocks_refused_total" : "conclave_grpc_header_blocks_not_inspected_total";
        Assert.True(await Metrics.ReadAsync(node.HttpUrl, counter) >= 1, $"{counter} in /metrics");
    }

    [Fact]
    public async Task Unfinished_header_blocks_are_closed_when_the_request_headers_timeout_passes()
    {
        const int Connections = 200;
        var clock = new ManualClock();
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { TimeProvider = clock });
        var authority = new Uri(node.Endpoint).Authority;
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var connections = new List<RawHttp2Connection>();
        try
        {
            await using var memory = MemoryPeak.Start();
            var unfinished = RawHttp2Connection.HeaderFrames(1, RequestBlocks.Padded(authority, 12_000), endHeaders: false);
            for (var i = 0; i < Connections; i++)
            {
                var connection = await RawHttp2Connection.OpenAsync(node.Endpoint, timeout.Token);
                connections.Add(connection);
                await connection.SendAsync(unfinished, timeout.Token);
            }

            // The server's SETTINGS on each connection: every one is accepted and being read.
            foreach (var connection in connections)
            {
                Assert.Equal(FrameType.Settings, (await connection.ReadFrameAsync(timeout.Token))?.Header.Type);
            }

            clock.Advance(new KestrelServerLimits().RequestHeadersTimeout + TimeSpan.FromSeconds(1));
            await Task.WhenAll(connections.Select(c => c.ReadUntilClosedAsync(timeout.Token)));

            output.WriteLine($"{Connections} connections closed; memory: {memory}");
            Assert.True(memory.Growth < MaxGrowth, memory.ToString());
            Assert.True(await Metrics.ReadAsync(node.HttpUrl, "conclave_grpc_header_block_timeouts_total") >= Connections);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Large_unfinished_header_blocks_are_not_buffered()
    {
        // The reviewer's second finding: header blocks that never finish were buffered whole (2,000 connections, 2.2
        // GB). A block larger than Kestrel allows is refused while it arrives, finished or not.
        const int Connections = 200;
        await using var node = await TestNode.StartInProcessAsync(output);
        var authority = new Uri(node.Endpoint).Authority;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var unfinished = RawHttp2Connection.HeaderFrames(1, RequestBlocks.Padded(authority, 1024 * 1024), endHeaders: false);
        var connections = new List<RawHttp2Connection>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                connections.Add(await RawHttp2Connection.OpenAsync(node.Endpoint, timeout.Token));
            }

            await using var memory = MemoryPeak.Start();
            var goAways = await Task.WhenAll(connections.Select(async c =>
            {
                var sending = SendUntilClosedAsync(c, unfinished, timeout.Token);
                var goAway = await c.ReadUntilClosedAsync(timeout.Token);
                await sending;
                return goAway;
            }));

            output.WriteLine($"GOAWAY codes: {string.Join(", ", goAways.GroupBy(g => g).Select(g => $"{g.Key?.ToString() ?? "(none)"} x{g.Count()}"))}; memory: {memory}");
            // Buffering the blocks would cost 200 MiB or more; without it this process (the 200 client connections
            // included, which share it) measured +50-63 MiB of GC heap at the peak, too close to the 64 MiB of the other
            // tests for a bound that must not fail by noise. Half of what buffering costs still catches it.
            Assert.True(memory.Growth < UnfinishedBlocksMaxGrowth, memory.ToString());
            // Kestrel's answer to a header list past its limit. A connection the server closes while the client is
            // still sending is reset, and the reset may overtake the GOAWAY: no code is no answer, not a wrong one.
            Assert.All(goAways, g => Assert.True(g is null or Http2ErrorCode.ProtocolError, $"GOAWAY {g}"));
            Assert.Contains(Http2ErrorCode.ProtocolError, goAways);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Sends <paramref name="bytes"/>; a server that closes the connection halfway ends the send early, as intended.</summary>
    private static async Task SendUntilClosedAsync(RawHttp2Connection connection, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await connection.SendAsync(bytes, cancellationToken);
        }
        catch (System.Net.Sockets.SocketException)
        {
        }
    }
}

using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Google.Protobuf;

namespace Conclave.Server.Tests.Watch;

/// <summary>
/// A client that floods a watch stream with create requests and never reads the answers is held back: once the
/// session's answers stop flowing, the member stops reading the client's requests (HTTP/2 flow control then stalls
/// the client's writes), instead of queueing every request in memory.
/// </summary>
public sealed class WatchControlQueueTests(ITestOutputHelper output)
{
    // Large enough that the stream's 1 MiB receive window holds about a thousand of them, small enough to be cheap.
    private const int KeyBytes = 1024;
    private const int Flood = 20_000;

    [Fact]
    public async Task Flood_of_creates_from_a_client_that_reads_nothing_stalls_its_writes_and_keeps_watchers_bounded()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var call = new Api.Etcd.Watch.WatchClient(channel).Watch(cancellationToken: stop.Token);
        var key = ByteString.CopyFrom(new byte[KeyBytes]);
        var request = new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key } };

        var sent = 0;
        var stalled = false;
        while (sent < Flood)
        {
            var write = call.RequestStream.WriteAsync(request, stop.Token);
            // A write that is not taken within this long is held by flow control: the member stopped reading.
            if (await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(3), stop.Token)) != write)
            {
                stalled = true;
                break;
            }

            await write;
            sent++;
        }

        var watchers = await Metrics.ReadAsync(node.HttpUrl, "conclave_watch_watchers") ?? 0;
        output.WriteLine($"stalled: {stalled}, after {sent} create requests ({sent * (KeyBytes + 8) / 1024} KiB); {watchers} watchers created");
        Assert.True(stalled, $"all {Flood} create requests ({Flood * KeyBytes / 1024 / 1024} MiB) were taken by a member whose answers nobody read");
        Assert.True(watchers <= sent, $"{watchers} watchers for {sent} requests");

        // Once the client goes away the member lets go of everything the stream held.
        await stop.CancelAsync();
        call.Dispose();
        await Metrics.WaitForWatchersAsync(node.HttpUrl, 0);
    }
}

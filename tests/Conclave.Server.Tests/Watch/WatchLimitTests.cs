using System.Net;
using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Watch;

/// <summary>
/// The watches one client may hold: per stream (<c>--max-watches-per-stream</c>), per connection, all its streams
/// together (<c>--max-watches-per-connection</c>), and the bytes of their keys per connection
/// (<c>--max-watch-key-bytes-per-connection</c>). A create past a limit is answered as etcd answers a refused create
/// (created and canceled, with the reason); the stream, its other watches, other connections and the member go on.
/// Without them one stream took 100,000 watches (+43 MiB) and 500 watches with 1 MB keys cost 490 MiB. And a response
/// carries about 1 MiB of events at most (it carried 1,000 events, whatever their size).
/// </summary>
public sealed class WatchLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_stream_past_its_limit_refuses_the_create_and_keeps_its_watches()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxWatchesPerStream = 3 });
        using var channel = node.CreateChannel();
        await using var stream = new WatchStream(channel);
        for (var i = 0; i < 3; i++)
        {
            Assert.False((await stream.CreateAsync("k")).Canceled);
        }

        var refused = await stream.CreateAsync("k");
        Assert.True(refused.Created);
        Assert.True(refused.Canceled);
        Assert.StartsWith("etcdserver: too many watches: ", refused.CancelReason, StringComparison.Ordinal);
        Assert.Contains("3 watches are open on this stream; the limit is 3 (--max-watches-per-stream)", refused.CancelReason, StringComparison.Ordinal);

        // The three watches still deliver; a cancelled one frees its place.
        await Fixtures.Grpc.PutAsync(new KV.KVClient(channel), "k", "v");
        var delivered = new HashSet<long>();
        while (delivered.Count < 3)
        {
            var events = await stream.NextAsync();
            Assert.Equal("k", Assert.Single(events.Events).Kv.Key.ToStringUtf8());
            delivered.Add(events.WatchId);
        }

        await stream.CancelAsync(delivered.First());
        Assert.False((await stream.CreateAsync("k")).Canceled);
        await AssertMemberServesOthersAsync(node);
    }

    [Fact]
    public async Task A_connection_past_its_limit_refuses_the_create_on_every_stream_until_one_ends()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxWatchesPerStream = 5, MaxWatchesPerConnection = 7 });
        using var channel = node.CreateChannel();
        var first = new WatchStream(channel);
        await using var second = new WatchStream(channel);
        for (var i = 0; i < 5; i++)
        {
            Assert.False((await first.CreateAsync("a")).Canceled);
        }

        Assert.False((await second.CreateAsync("b")).Canceled);
        Assert.False((await second.CreateAsync("b")).Canceled);
        var refused = await second.CreateAsync("b");
        Assert.True(refused.Canceled);
        Assert.Contains("7 watches are open on this connection; the limit is 7 (--max-watches-per-connection)", refused.CancelReason, StringComparison.Ordinal);

        // Another connection has a budget of its own.
        using (var other = node.CreateChannel())
        {
            await using var elsewhere = new WatchStream(other);
            Assert.False((await elsewhere.CreateAsync("b")).Canceled);
        }

        // A stream that ends gives its watches back to the connection.
        await first.DisposeAsync();
        await Eventually.WaitAsync(
            async _ => !(await second.CreateAsync("b")).Canceled,
            Eventually.DefaultTimeout,
            "a create on the connection succeeds once its other stream has ended");
        await AssertMemberServesOthersAsync(node);
    }

    [Fact]
    public async Task The_keys_of_a_connections_watches_are_bounded_in_bytes()
    {
        const int limit = 1024 * 1024;
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxWatchKeyBytesPerConnection = limit });
        using var channel = node.CreateChannel();
        await using var stream = new WatchStream(channel);
        var big = ByteString.CopyFrom(new byte[600 * 1024]);
        var end = ByteString.CopyFrom(new byte[] { 0xff });
        Assert.False((await stream.CreateAsync(big, end)).Canceled);
        var refused = await stream.CreateAsync(big, end);
        Assert.True(refused.Canceled);
        Assert.Contains($"the keys of this connection's watches would take {2 * ((600 * 1024) + 1)} bytes; the limit is {limit} (--max-watch-key-bytes-per-connection)", refused.CancelReason, StringComparison.Ordinal);

        // Small keys still fit.
        Assert.False((await stream.CreateAsync("small")).Canceled);
        await AssertMemberServesOthersAsync(node);
    }

    [Fact]
    public async Task A_replay_of_large_values_comes_in_responses_of_about_a_mebibyte()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var value = ByteString.CopyFrom(new byte[700 * 1024]);
        var first = 0L;
        for (var i = 0; i < 4; i++)
        {
            var put = await kv.PutAsync(new PutRequest { Key = Fixtures.Grpc.Bytes($"large/{i}"), Value = value });
            first = first == 0 ? put.Header.Revision : first;
        }

        await using var stream = new WatchStream(channel);
        await stream.CreateAsync(Fixtures.Grpc.Bytes("large/"), Fixtures.Grpc.Bytes("large0"), first);
        var revisions = new List<long>();
        var responses = 0;
        while (revisions.Count < 4)
        {
            var response = await stream.NextAsync();
            Assert.True(response.CalculateSize() < 2 * 1024 * 1024, $"a response of {response.CalculateSize()} bytes");
            revisions.AddRange(response.Events.Select(e => e.Kv.ModRevision));
            responses++;
        }

        Assert.Equal(Enumerable.Range(0, 4).Select(i => first + i), revisions);
        Assert.True(responses >= 2, $"4 events of 700 KiB came in {responses} response(s)");
    }

    /// <summary>Another client (its own connection) writes and reads, and the member reports itself healthy.</summary>
    private static async Task AssertMemberServesOthersAsync(TestNode node)
    {
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        await Fixtures.Grpc.PutAsync(kv, "other", "v");
        var range = await kv.RangeAsync(new RangeRequest { Key = Fixtures.Grpc.Bytes("other") });
        Assert.Equal("v", range.Kvs[0].Value.ToStringUtf8());
        using var http = node.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
    }

    /// <summary>One Watch stream, driven request by request.</summary>
    private sealed class WatchStream(GrpcChannel channel) : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new(TimeSpan.FromMinutes(2));
        private readonly AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call = new Api.Etcd.Watch.WatchClient(channel).Watch();
        private int disposed;

        public Task<WatchResponse> CreateAsync(string key) => CreateAsync(Fixtures.Grpc.Bytes(key), ByteString.Empty);

        /// <summary>Creates a watch and returns the member's answer to it.</summary>
        public async Task<WatchResponse> CreateAsync(ByteString key, ByteString rangeEnd, long startRevision = 0)
        {
            await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key, RangeEnd = rangeEnd, StartRevision = startRevision } }, stop.Token);
            var response = await NextAsync();
            Assert.True(response.Created, $"expected the answer to a create, got {response}");
            return response;
        }

        public async Task CancelAsync(long watchId)
        {
            await call.RequestStream.WriteAsync(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = watchId } }, stop.Token);
            var response = await NextAsync();
            Assert.True(response.Canceled && response.WatchId == watchId, $"expected the cancel of {watchId}, got {response}");
        }

        public async Task<WatchResponse> NextAsync()
        {
            Assert.True(await call.ResponseStream.MoveNext(stop.Token), "the watch stream ended");
            return call.ResponseStream.Current;
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 1)
            {
                return;
            }

            await stop.CancelAsync();
            call.Dispose();
            stop.Dispose();
        }
    }
}

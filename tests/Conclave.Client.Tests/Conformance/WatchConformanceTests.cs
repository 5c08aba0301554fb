using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Conformance;

/// <summary>Watch behaviour every etcd-v3-compatible server must show through the client.</summary>
public abstract class WatchConformanceTests(KvEndpointFixture fixture)
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Watch_delivers_puts_and_deletes_in_revision_order_with_previous_values()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("watch-order");
        var start = (await client.GetAsync(prefix, cancellationToken: cts.Token)).Revision + 1;
        await using var events = client.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = start, PrevKv = true }, cts.Token)
            .GetAsyncEnumerator(cts.Token);
        var first = events.MoveNextAsync();

        await client.PutAsync(prefix + "a", "1", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "a", "2", cancellationToken: cts.Token);
        await client.TxnAsync([], [Op.Put(prefix + "b", "3"), Op.Delete(prefix + "a")], [], cts.Token);
        Assert.True(await first);
        var seen = new List<WatchEvent> { events.Current };
        seen.AddRange(await WatchReader.TakeAsync(events, 3, EventTimeout));

        Assert.Equal(
            ["Put a=1", "Put a=2", "Put b=3", "Delete a="],
            seen.Select(e => $"{e.Type} {e.Entry.KeyString[prefix.Length..]}={e.Entry.ValueString}"));
        Assert.Equal(start, seen[0].Revision);
        Assert.Equal(seen[2].Revision, seen[3].Revision);
        Assert.Null(seen[0].PrevEntry);
        Assert.Equal("1", seen[1].PrevEntry?.ValueString);
        Assert.Equal("2", seen[3].PrevEntry?.ValueString);
    }

    [Fact]
    public async Task Watch_from_a_past_revision_replays_history_then_follows_live()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("watch-replay") + "k";
        var first = await client.PutAsync(key, "old-1", cancellationToken: cts.Token);
        await client.PutAsync(key, "old-2", cancellationToken: cts.Token);
        await using var events = client.WatchAsync(key, new WatchOptions { StartRevision = first.Revision }, cts.Token).GetAsyncEnumerator(cts.Token);

        var replayed = await WatchReader.TakeAsync(events, 2, EventTimeout);
        await client.PutAsync(key, "live", cancellationToken: cts.Token);
        var live = await WatchReader.TakeAsync(events, 1, EventTimeout);

        Assert.Equal(["old-1", "old-2", "live"], replayed.Concat(live).Select(e => e.Entry.ValueString));
    }

    [Fact]
    public async Task Watch_from_a_compacted_revision_fails_with_WatchCompactedException()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("watch-compacted") + "k";
        var v1 = await client.PutAsync(key, "1", cancellationToken: cts.Token);
        var v2 = await client.PutAsync(key, "2", cancellationToken: cts.Token);
        await client.CompactAsync(v2.Revision, physical: true, cancellationToken: cts.Token);

        var error = await Assert.ThrowsAsync<WatchCompactedException>(async () =>
        {
            await foreach (var _ in client.WatchAsync(key, new WatchOptions { StartRevision = v1.Revision }, cts.Token))
            {
                Assert.Fail("No event may be delivered from a compacted revision.");
            }
        });

        Assert.Equal(v2.Revision, error.CompactRevision);
        Assert.Equal(v1.Revision, error.RequestedRevision);
    }

    [Fact]
    public async Task A_slow_consumer_with_a_tiny_buffer_still_gets_every_event()
    {
        using var cts = TestKeys.Timeout(25);
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("watch-backpressure");
        var start = (await client.GetAsync(prefix, cancellationToken: cts.Token)).Revision + 1;
        const int Count = 150;
        await using var events = client.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = start, BufferCapacity = 1 }, cts.Token)
            .GetAsyncEnumerator(cts.Token);
        var first = events.MoveNextAsync();

        // Write everything before reading: the buffer holds one response, the rest must wait, not vanish.
        for (var i = 0; i < Count; i++)
        {
            await client.PutAsync(prefix + i.ToString("D4"), i.ToString(), cancellationToken: cts.Token);
        }

        Assert.True(await first);
        var seen = new List<WatchEvent> { events.Current };
        seen.AddRange(await WatchReader.TakeAsync(events, Count - 1, EventTimeout));

        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString()), seen.Select(e => e.Entry.ValueString));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => start + i), seen.Select(e => e.Revision));
    }

    [Fact]
    public async Task Watches_share_a_stream_independently_and_filters_apply()
    {
        using var cts = TestKeys.Timeout();
        await using var client = fixture.CreateClient();
        var prefix = TestKeys.UniquePrefix("watch-multiplex");
        var start = (await client.GetAsync(prefix, cancellationToken: cts.Token)).Revision + 1;
        await using var left = client.WatchAsync(prefix + "left/", new WatchOptions { Prefix = true, StartRevision = start }, cts.Token).GetAsyncEnumerator(cts.Token);
        await using var right = client.WatchAsync(prefix + "right/", new WatchOptions { Prefix = true, StartRevision = start, NoDelete = true }, cts.Token).GetAsyncEnumerator(cts.Token);
        var early = client.WatchAsync(prefix + "left/", new WatchOptions { Prefix = true, StartRevision = start }, cts.Token).GetAsyncEnumerator(cts.Token);

        await client.PutAsync(prefix + "left/1", "L1", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "right/1", "R1", cancellationToken: cts.Token);
        Assert.Equal("L1", (await WatchReader.TakeAsync(early, 1, EventTimeout))[0].Entry.ValueString);
        await early.DisposeAsync(); // cancels that watch only
        await client.DeleteAsync(prefix + "right/1", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "right/2", "R2", cancellationToken: cts.Token);
        await client.PutAsync(prefix + "left/2", "L2", cancellationToken: cts.Token);

        var leftSeen = await WatchReader.TakeAsync(left, 2, EventTimeout);
        var rightSeen = await WatchReader.TakeAsync(right, 2, EventTimeout);

        Assert.Equal(["L1", "L2"], leftSeen.Select(e => e.Entry.ValueString));
        Assert.Equal(["R1", "R2"], rightSeen.Select(e => e.Entry.ValueString));
    }

    [Fact]
    public async Task Disposing_the_client_ends_running_watches_with_ObjectDisposedException()
    {
        using var cts = TestKeys.Timeout();
        var client = fixture.CreateClient();
        var key = TestKeys.UniquePrefix("watch-dispose") + "k";
        var start = (await client.GetAsync(key, cancellationToken: cts.Token)).Revision + 1;
        var events = client.WatchAsync(key, new WatchOptions { StartRevision = start }, cts.Token).GetAsyncEnumerator(cts.Token);
        var pending = events.MoveNextAsync().AsTask();
        await client.PutAsync(key, "v", cancellationToken: cts.Token);
        Assert.True(await pending);

        var next = events.MoveNextAsync().AsTask();
        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => next);
        await events.DisposeAsync();
    }
}

using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Conformance;

/// <summary>
/// A watch survives the server being killed and restarted: the client reconnects and resumes after the last
/// revision it delivered, so the consumer sees every event exactly once, in order. Kills the server, so the
/// fixture must not be shared with other test classes.
/// </summary>
public abstract class WatchResumeConformanceTests(KvEndpointFixture fixture)
{
    [Fact]
    public async Task Watch_resumes_after_a_server_kill_and_restart_without_loss_or_duplicates()
    {
        using var cts = TestKeys.Timeout(40);
        await using var writer = fixture.CreateClient();
        await using var watcher = fixture.CreateClient(o => o with { RetryBaseDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMilliseconds(300) });
        var prefix = TestKeys.UniquePrefix("watch-resume");
        var start = (await writer.GetAsync(prefix, cancellationToken: cts.Token)).Revision + 1;
        await using var events = watcher.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = start, BufferCapacity = 4 }, cts.Token)
            .GetAsyncEnumerator(cts.Token);
        // A ValueTask may be observed only once: turn it into a Task a single time and use that.
        var first = events.MoveNextAsync().AsTask();

        for (var i = 0; i < 30; i++)
        {
            await writer.PutAsync(prefix + (i % 7), i.ToString(), cancellationToken: cts.Token);
        }

        Assert.True(await first);
        var seen = new List<WatchEvent> { events.Current };
        seen.AddRange(await WatchReader.TakeAsync(events, 9, TimeSpan.FromSeconds(10)));

        // Kill while the consumer is behind: some events sit in the client buffer, some were never sent.
        await fixture.KillAndRestartAsync(cts.Token);
        for (var i = 30; i < 60; i++)
        {
            await writer.PutAsync(prefix + (i % 7), i.ToString(), cancellationToken: cts.Token);
        }

        seen.AddRange(await WatchReader.TakeAsync(events, 50, TimeSpan.FromSeconds(20)));

        Assert.Equal(Enumerable.Range(0, 60).Select(i => i.ToString()), seen.Select(e => e.Entry.ValueString));
        Assert.Equal(Enumerable.Range(0, 60).Select(i => start + i), seen.Select(e => e.Revision));
    }

    [Fact]
    public async Task A_watch_started_at_now_resumes_after_restart_from_where_it_was()
    {
        using var cts = TestKeys.Timeout(40);
        await using var client = fixture.CreateClient(o => o with { RetryMaxDelay = TimeSpan.FromMilliseconds(300) });
        var prefix = TestKeys.UniquePrefix("watch-now-resume");
        await client.PutAsync(prefix + "before", "history", cancellationToken: cts.Token);
        await using var events = client.WatchAsync(prefix, new WatchOptions { Prefix = true }, cts.Token).GetAsyncEnumerator(cts.Token);
        // A ValueTask may be observed only once: turn it into a Task a single time and use that.
        var first = events.MoveNextAsync().AsTask();

        // The watch starts at "now" once the server has created it; keep writing until one write lands after that.
        var probe = 0;
        while (!first.IsCompleted)
        {
            await client.PutAsync(prefix + "probe", (probe++).ToString(), cancellationToken: cts.Token);
            await Task.WhenAny(first, Task.Delay(50, cts.Token));
        }

        Assert.True(await first);
        Assert.Equal(prefix + "probe", events.Current.Entry.KeyString);
        var seenProbes = 1 + (await WatchReader.TakeAsync(events, probe - 1 - int.Parse(events.Current.Entry.ValueString), TimeSpan.FromSeconds(10))).Count;
        await fixture.KillAndRestartAsync(cts.Token);
        await client.PutAsync(prefix + "after", "restart", cancellationToken: cts.Token);

        var after = await WatchReader.TakeAsync(events, 1, TimeSpan.FromSeconds(20));

        Assert.True(seenProbes >= 1);
        Assert.Equal(prefix + "after", after[0].Entry.KeyString);
    }
}

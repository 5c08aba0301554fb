using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Conformance;

/// <summary>When the member a client uses dies, reads and watches move to the next member without losing events.</summary>
public abstract class FailoverConformanceTests(KvClusterFixture fixture)
{
    [Fact]
    public async Task Reads_and_watches_fail_over_when_the_current_member_dies()
    {
        using var cts = TestKeys.Timeout(40);
        var endpoints = fixture.Endpoints;
        await using var client = fixture.CreateClient(o => o with { RetryMaxDelay = TimeSpan.FromMilliseconds(300) });

        // The client uses its home member on the hash ring until it fails; the writer uses the others.
        var victim = await client.StatusAsync(cancellationToken: cts.Token);
        var victimIndex = IndexOf(endpoints, victim.Endpoint);
        await using var writer = fixture.CreateClient(o => o with { Endpoints = [.. endpoints.Where((_, i) => i != victimIndex)] });
        var prefix = TestKeys.UniquePrefix("failover-watch");
        var start = (await writer.GetAsync(prefix, cancellationToken: cts.Token)).Revision + 1;
        await using var events = client.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = start }, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = events.MoveNextAsync();
        for (var i = 0; i < 10; i++)
        {
            await writer.PutAsync(prefix + i, i.ToString(), cancellationToken: cts.Token);
        }

        Assert.True(await first);
        var seen = new List<WatchEvent> { events.Current };
        seen.AddRange(await WatchReader.TakeAsync(events, 4, TimeSpan.FromSeconds(10)));

        Assert.Equal(victim.Endpoint, (await client.StatusAsync(cancellationToken: cts.Token)).Endpoint);
        await fixture.KillMemberAsync(victimIndex, cts.Token);
        for (var i = 10; i < 20; i++)
        {
            await CreateAsync(writer, prefix + i, i.ToString(), victim.MemberId, cts.Token);
        }

        seen.AddRange(await WatchReader.TakeAsync(events, 15, TimeSpan.FromSeconds(20)));
        var read = await client.GetAsync(prefix, new GetOptions { Prefix = true, CountOnly = true }, cts.Token);

        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString()), seen.Select(e => e.Entry.ValueString));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => start + i), seen.Select(e => e.Revision));
        Assert.Equal(20, read.Count);
        Assert.NotEqual(victim.Endpoint, (await client.StatusAsync(cancellationToken: cts.Token)).Endpoint);
    }

    private static int IndexOf(IReadOnlyList<string> endpoints, string address)
    {
        for (var i = 0; i < endpoints.Count; i++)
        {
            if (endpoints[i].TrimEnd('/') == address.TrimEnd('/'))
            {
                return i;
            }
        }

        throw new InvalidOperationException($"{address} is not one of {string.Join(", ", endpoints)}");
    }

    /// <summary>
    /// Creates a key, riding out the election that may follow the kill: a write during a leader change can time
    /// out on the server with its outcome unknown, so it is retried as a create-if-absent, which applies at most once.
    /// </summary>
    private static async Task CreateAsync(ConclaveClient writer, string key, string value, ulong deadMember, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var status = await writer.StatusAsync(cancellationToken: cancellationToken);
                if (status.Leader != 0 && status.Leader != deadMember)
                {
                    await writer.Txn()
                        .If(Compare.Version(key).EqualTo(0))
                        .Then(Op.Put(key, value))
                        .CommitAsync(cancellationToken);
                    return;
                }
            }
            catch (Exception e) when (e is RequestTimeoutException or NoLeaderException or EndpointUnavailableException)
            {
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}

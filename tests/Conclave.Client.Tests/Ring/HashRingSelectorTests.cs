using System.Collections.Concurrent;
using Conclave.Client.Internal;
using Conclave.Testing;

namespace Conclave.Client.Tests.Ring;

/// <summary>Failover along the ring and the way back home, with a fake health probe (no network).</summary>
public sealed class HashRingSelectorTests
{
    private static readonly ConclaveClientOptions Options = new();

    private readonly ConcurrentDictionary<string, bool> healthy = new();
    private readonly ConcurrentDictionary<string, int> probes = new();

    private HashRingSelector Create(string instanceId, int members = 3)
    {
        var endpoints = Enumerable.Range(1, members).Select(i => ClientEndpoint.Create($"http://10.0.0.{i}:2379", Options)).ToArray();
        return new HashRingSelector(
            endpoints,
            instanceId,
            (endpoint, _) =>
            {
                probes.AddOrUpdate(endpoint.Address, 1, static (_, n) => n + 1);
                return Task.FromResult(healthy.GetValueOrDefault(endpoint.Address));
            },
            TimeProvider.System,
            TimeSpan.FromMilliseconds(1),
            TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void A_client_starts_at_its_home_member_from_the_ring()
    {
        using var selector = Create("pod-7");

        Assert.Same(selector.All[selector.Ring.Home("pod-7")], selector.Current);
        Assert.Same(selector.Home, selector.Current);
        Assert.Empty(probes);
    }

    [Fact]
    public void Clients_with_different_ids_have_different_homes()
    {
        var homes = new HashSet<string>();
        for (var i = 0; i < 30; i++)
        {
            using var selector = Create($"pod-{i}");
            homes.Add(selector.Current.Address);
        }

        Assert.Equal(3, homes.Count);
    }

    [Fact]
    public void A_failure_moves_to_the_next_member_clockwise_skipping_ones_marked_down()
    {
        using var selector = Create("pod-1", members: 5);
        var order = selector.PreferenceOrder;

        // A member that is not current fails (say a stale stream): it is marked down, the client stays.
        selector.ReportFailure(order[1]);
        Assert.Same(order[0], selector.Current);
        Assert.True(selector.IsMarkedDown(order[1]));

        selector.ReportFailure(order[0]);
        Assert.Same(order[2], selector.Current);

        // Several calls failing on the same member move the client once.
        selector.ReportFailure(order[0]);
        Assert.Same(order[2], selector.Current);
    }

    [Fact]
    public void When_every_member_is_down_the_client_keeps_trying_them_in_ring_order()
    {
        using var selector = Create("pod-2");
        var order = selector.PreferenceOrder;

        selector.ReportFailure(order[0]);
        selector.ReportFailure(order[1]);
        selector.ReportFailure(order[2]);
        Assert.Same(order[0], selector.Current);
        selector.ReportFailure(order[0]);
        Assert.Same(order[1], selector.Current);
    }

    [Fact]
    public async Task The_client_returns_home_once_the_probe_finds_home_healthy()
    {
        using var selector = Create("pod-3");
        var home = selector.Home;
        selector.ReportFailure(home);
        Assert.NotSame(home, selector.Current);

        // Probed with back-off while down, and nothing moves.
        await Eventually.WaitAsync(() => probes.GetValueOrDefault(home.Address) >= 3, Eventually.DefaultTimeout, "home probed repeatedly");
        Assert.NotSame(home, selector.Current);

        healthy[home.Address] = true;
        await Eventually.WaitAsync(() => ReferenceEquals(selector.Current, home), Eventually.DefaultTimeout, "the client is back home");
        Assert.False(selector.IsMarkedDown(home));

        // Healthy again: no more probes.
        var probed = probes[home.Address];
        selector.ReportFailure(selector.PreferenceOrder[2]);
        healthy[selector.PreferenceOrder[2].Address] = true;
        await Eventually.WaitAsync(() => !selector.IsMarkedDown(selector.PreferenceOrder[2]), Eventually.DefaultTimeout, "the third member is healthy");
        Assert.Equal(probed, probes[home.Address]);
        Assert.Same(home, selector.Current);
    }

    [Fact]
    public async Task A_recovered_member_closer_to_home_is_used_while_home_is_still_down()
    {
        using var selector = Create("pod-4");
        var order = selector.PreferenceOrder;
        selector.ReportFailure(order[0]);
        selector.ReportFailure(order[1]);
        Assert.Same(order[2], selector.Current);

        healthy[order[1].Address] = true;
        await Eventually.WaitAsync(() => ReferenceEquals(selector.Current, order[1]), Eventually.DefaultTimeout, "moved to the second member");
        Assert.True(selector.IsMarkedDown(order[0]));
    }

    [Fact]
    public async Task Disposing_stops_the_probes()
    {
        var started = new TaskCompletionSource();
        var cancelled = new TaskCompletionSource();
        var endpoints = Enumerable.Range(1, 3).Select(i => ClientEndpoint.Create($"http://10.0.0.{i}:2379", Options)).ToArray();
        var selector = new HashRingSelector(
            endpoints,
            "pod-5",
            async (_, ct) =>
            {
                started.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    throw;
                }

                return true;
            },
            TimeProvider.System,
            TimeSpan.FromMilliseconds(1),
            TimeSpan.FromMilliseconds(20));
        selector.ReportFailure(selector.Home);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(20));

        selector.Dispose();

        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(20));
        selector.ReportFailure(selector.Current);
    }

    [Fact]
    public void A_single_endpoint_is_never_marked_down_or_probed()
    {
        using var selector = Create("pod-6", members: 1);

        selector.ReportFailure(selector.Current);

        Assert.False(selector.IsMarkedDown(selector.Current));
        Assert.Empty(probes);
    }
}

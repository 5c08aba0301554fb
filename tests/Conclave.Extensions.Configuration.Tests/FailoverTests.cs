using Conclave.Client;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// Failover against a real three-member cluster: the member serving a provider's subscription stops, a release is
/// published meanwhile through another member, and the subscription resumes on another member with it.
/// </summary>
public sealed class FailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_subscription_moves_to_another_member_when_its_member_stops_and_misses_no_release()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(3, output, cancellationToken: cts.Token);
        var app = CenterAdmin.NewAppId();
        var leader = await cluster.WaitForLeaderAsync(cancellationToken: cts.Token);
        using (var admin = new CenterAdmin(cluster.HttpUrl(leader), app))
        {
            await admin.CreateAppAsync();
            await admin.CreateNamespaceAsync("application");
            await admin.SetAndPublishAsync("application", "Orders.Greeting", "one");
        }

        // Reconnect back-off and home probes run on a manual clock: the test decides when the subscriber may
        // reconnect, so the release below is certainly published while it is disconnected.
        var clock = new ManualClock();
        await using var client = new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = cluster.Endpoints,
            InstanceId = "pod-failover",
            TimeProvider = clock,
            RequestTimeout = Timeout.InfiniteTimeSpan,
            DialTimeout = TimeSpan.FromSeconds(2),
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        });
        var target = new ConfigTarget { App = app, Environment = "PRO", Namespaces = ["application"] };
        await Eventually.WaitAsync(
            async ct =>
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                return (await client.FetchConfigAsync(target, ct)).Count == 1;
            },
            TimeSpan.FromSeconds(30),
            "a first fetch through the client's home member",
            cts.Token);

        var options = Sources.Options(cluster.Endpoints[0], app, "pod-failover");
        options.Client = client;
        options.StartupTimeout = TimeSpan.FromSeconds(30);
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        Assert.Equal("one", root["Orders:Greeting"]);
        var applied = new List<long>();
        provider.Changed += (_, e) => { lock (applied) { applied.AddRange(e.Releases.Select(r => r.ReleaseId)); } };
        await Eventually.WaitAsync(() => { clock.Advance(TimeSpan.FromSeconds(1)); return provider.Status.Connected; }, Eventually.DefaultTimeout, "the subscription to connect", cts.Token);

        var home = (await client.StatusAsync(cancellationToken: cts.Token)).Endpoint;
        var victim = cluster.Endpoints.ToList().IndexOf(home);
        Assert.True(victim >= 0, $"{home} is not a member");
        await cluster.StopMemberAsync(victim);
        await Eventually.WaitAsync(() => !provider.Status.Connected, Eventually.DefaultTimeout, "the subscription to notice its member stopped", cts.Token);

        var survivor = await cluster.WaitForLeaderAsync(cancellationToken: cts.Token);

        // Publish only once the new leader commits writes: a publish during the election may fail with an unknown
        // outcome, and retrying it could publish twice.
        // (A separate client on the real clock: the subscriber's clock must not move yet.)
        await using (var probe = new ConclaveClient(new ConclaveClientOptions { Endpoints = [cluster.Endpoints[survivor]] }))
        {
            await Eventually.WaitAsync(
                async ct =>
                {
                    await probe.PutAsync("failover/probe", "x", cancellationToken: ct);
                    return true;
                },
                TimeSpan.FromSeconds(30),
                "the surviving members to accept writes",
                cts.Token);
        }

        long published;
        using (var admin = new CenterAdmin(cluster.HttpUrl(survivor), app))
        {
            published = await admin.SetAndPublishAsync("application", "Orders.Greeting", "published-during-failover");
        }

        Assert.False(provider.Status.Connected);
        Assert.Equal("one", root["Orders:Greeting"]);

        await Eventually.WaitAsync(
            () =>
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                // The Changed event follows the data swap; wait for both before comparing what was applied.
                lock (applied)
                {
                    return root["Orders:Greeting"] == "published-during-failover" && applied.Count > 0;
                }
            },
            TimeSpan.FromSeconds(30),
            "the release published while the subscription was moving",
            cts.Token);
        lock (applied)
        {
            Assert.Equal([published], applied);
        }

        Assert.NotEqual(home, (await client.StatusAsync(cancellationToken: cts.Token)).Endpoint);
    }
}

using System.Net.Http.Json;
using System.Text.Json;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Webhooks across a leader change on a real 3-member cluster (ADR 0016): a delivery still being retried when the leader
/// stops is sent by the next leader with the same event id and body, an event published after the change is delivered,
/// and no event is created twice (the delivery log holds one entry per event); duplicates of a request are allowed
/// (at least once) and counted.
/// </summary>
public sealed class WebhookFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster cluster = null!;

    public async Task InitializeAsync() =>
        cluster = await TestCluster.StartAsync(3, output, o => o with { Webhooks = new WebhookOptions { Retry = WebhookTests.FastRetry with { MaxAttempts = 100 }, PollInterval = TimeSpan.FromMilliseconds(100) } });

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task A_leader_change_loses_no_event_and_creates_none_twice()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var status = 200;
        receiver.Answer = _ => Volatile.Read(ref status);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = await cluster.FollowerAsync();
        var node = cluster[follower].Node;
        var center = new ConfigCenterService(new LocalKeyValuePort(node, new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance)));
        var who = new ChangeContext("alice");
        await center.CreateAppAsync("fo", null, null, who);
        await center.CreateEnvironmentAsync("fo", "DEV", who);
        await center.CreateNamespaceAsync("fo", "DEV", "application", NamespaceFormat.Properties, null, who);

        using var http = new HttpClient { BaseAddress = new Uri(cluster.HttpUrl(follower)) };
        http.DefaultRequestHeaders.Add(ConfigHttpApi.AuthorHeader, "alice");
        using var created = await http.PostAsJsonAsync("/api/v1/apps/fo/webhooks", new { url = receiver.Url, events = new[] { "release.publish" } });
        var issued = await created.Content.ReadFromJsonAsync<JsonElement>();
        receiver.Secret = issued.GetProperty("secret").GetString();
        var id = issued.GetProperty("webhook").GetProperty("id").GetString()!;

        async Task PublishAsync(string value)
        {
            await center.SetItemAsync("fo", "DEV", "application", new ConfigItem("v", value), 0, who);
            await center.PublishAsync("fo", "DEV", "application", value, null, 0, who);
        }

        string[] Titles(bool onlyAnswered) => [.. receiver.Requests.Where(r => !onlyAnswered || r.Number > 0).Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("detail").GetString()!)];

        await PublishAsync("r1");
        await Eventually.WaitAsync(() => Titles(false).Contains("r1"), TimeSpan.FromSeconds(60), "r1 is delivered before the leader change");

        // r2 fails while the first leader leads: its delivery is pending (retrying) when that leader stops.
        Volatile.Write(ref status, 503);
        await PublishAsync("r2");
        await Eventually.WaitAsync(() => Titles(false).Contains("r2"), TimeSpan.FromSeconds(60), "r2 was attempted by the first leader");
        output.WriteLine($"stopping leader {leader}");
        await cluster.StopMemberAsync(leader);
        var next = await cluster.WaitForLeaderAsync();
        output.WriteLine($"new leader {next}");
        Volatile.Write(ref status, 200);
        // The member the test writes through reads again once it has confirmed the new leader (a read barrier).
        await Eventually.WaitAsync(async ct =>
        {
            try
            {
                await center.GetAppAsync("fo", ct);
                return true;
            }
            catch (Cluster.ConsensusUnavailableException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the remaining members serve reads");
        await PublishAsync("r3");

        var log = await Eventually.WaitForAsync(
            async ct => (await http.GetFromJsonAsync<JsonElement[]>($"/api/v1/apps/fo/webhooks/{id}/deliveries", ct))!,
            d => d.Length >= 3 && d.All(x => x.GetProperty("state").GetString() == "Delivered"),
            TimeSpan.FromSeconds(60), "r1, r2 and r3 are delivered");

        var requests = receiver.Requests.ToArray();
        foreach (var r in requests)
        {
            output.WriteLine($"#{r.Number} {r.EventId} attempt {r.Attempt} {JsonDocument.Parse(r.Body).RootElement.GetProperty("detail").GetString()}");
        }

        Assert.Equal(3, log.Length);
        Assert.All(requests, r => Assert.True(r.SignatureVerified));
        var byEvent = requests.GroupBy(r => r.EventId).ToDictionary(g => g.Key, g => g.ToArray());
        Assert.Equal(3, byEvent.Count);
        Assert.All(byEvent.Values, attempts => Assert.Single(attempts.Select(a => a.Body).Distinct()));
        Assert.Equal(["r1", "r2", "r3"], byEvent.Values.Select(a => JsonDocument.Parse(a[0].Body).RootElement.GetProperty("detail").GetString()).Order());
        Assert.Equal(log.Select(d => d.GetProperty("eventId").GetString()).Order(), byEvent.Keys.Order());
    }
}

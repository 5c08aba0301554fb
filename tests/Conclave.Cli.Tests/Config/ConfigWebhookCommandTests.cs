using System.Text.Json;

namespace Conclave.Cli.Tests.Config;

/// <summary><c>conclave config webhook add|list|ping|deliveries|redeliver|remove</c> against a real in-process member.</summary>
public sealed class ConfigWebhookCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Add_prints_the_secret_once_list_hides_it_and_a_ping_to_a_dead_endpoint_shows_its_failure_in_deliveries()
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", "shop");
        var at = new[] { "-a", "shop" };
        var dead = $"http://127.0.0.1:{FreePorts.Take(1)[0]}/hook";

        var created = await cli.OkAsync([.. at, "webhook", "add", "--url", dead, "--events", "release.publish,gray.*", "--description", "ci"]);
        output.WriteLine(created);
        var secret = created.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("whsec_", StringComparison.Ordinal));
        var listed = JsonDocument.Parse(await cli.OkAsync([.. at, "webhook", "list", "-o", "json"])).RootElement;
        var id = listed[0].GetProperty("id").GetString()!;
        Assert.Equal(["release.publish", "gray.*"], listed[0].GetProperty("events").EnumerateArray().Select(e => e.GetString()));

        var table = await cli.OkAsync([.. at, "webhook", "list"]);
        output.WriteLine(table);
        Assert.Contains(id, table, StringComparison.Ordinal);
        Assert.Contains("..." + secret[^4..], table, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[6..], table, StringComparison.Ordinal);

        Assert.Contains("Queued ping-", await cli.OkAsync([.. at, "webhook", "ping", id]), StringComparison.Ordinal);
        var log = await Eventually.WaitForAsync(async _ => await cli.OkAsync([.. at, "webhook", "deliveries", id]),
            text => text.Contains("refused", StringComparison.OrdinalIgnoreCase), Eventually.DefaultTimeout, "the failed ping attempt is in the log");
        output.WriteLine(log);
        Assert.Contains("ping", log, StringComparison.Ordinal);

        var eventId = JsonDocument.Parse(await cli.OkAsync([.. at, "webhook", "deliveries", id, "-o", "json"])).RootElement[0].GetProperty("eventId").GetString()!;
        Assert.Contains($"Queued {eventId} again", await cli.OkAsync([.. at, "webhook", "redeliver", id, eventId]), StringComparison.Ordinal);

        var (code, _, error) = await cli.RunAsync([.. at, "webhook", "add", "--url", "ftp://example.com/x"]);
        Assert.Equal(1, code);
        Assert.Contains("only http and https", error, StringComparison.Ordinal);

        Assert.Contains($"Removed webhook {id}", await cli.OkAsync([.. at, "webhook", "remove", id]), StringComparison.Ordinal);
        Assert.Equal(0, JsonDocument.Parse(await cli.OkAsync([.. at, "webhook", "list", "-o", "json"])).RootElement.GetArrayLength());
    }
}

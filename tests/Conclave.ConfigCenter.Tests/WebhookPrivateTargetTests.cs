using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>With <see cref="WebhookOptions.RefusePrivateTargets"/>, a webhook on loopback is never connected to; the log says why.</summary>
public sealed class WebhookPrivateTargetTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_loopback_target_is_refused_when_private_targets_are_refused()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await TestNode.StartInProcessAsync(output, o => o with
        {
            Webhooks = new WebhookOptions { RefusePrivateTargets = true, Retry = WebhookTests.FastRetry, PollInterval = TimeSpan.FromMilliseconds(100) },
        });
        using var http = node.CreateHttpClient();
        http.DefaultRequestHeaders.Add(ConfigHttpApi.AuthorHeader, "alice");
        (await http.PostAsJsonAsync("/api/v1/apps", new { id = "priv" })).EnsureSuccessStatusCode();
        using var created = await http.PostAsJsonAsync("/api/v1/apps/priv/webhooks", new { url = receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("webhook").GetProperty("id").GetString()!;
        (await http.PostAsync($"/api/v1/apps/priv/webhooks/{id}/ping", null)).EnsureSuccessStatusCode();

        var log = await Eventually.WaitForAsync(
            async ct => (await http.GetFromJsonAsync<JsonElement[]>($"/api/v1/apps/priv/webhooks/{id}/deliveries", ct))!,
            d => d.Length == 1 && d[0].GetProperty("state").GetString() == "Failed", Eventually.DefaultTimeout, "the ping fails every attempt");
        var error = log[0].GetProperty("lastError").GetString()!;
        output.WriteLine(error);
        Assert.Contains("refuses", error, StringComparison.Ordinal);
        Assert.Empty(receiver.Requests);
    }
}

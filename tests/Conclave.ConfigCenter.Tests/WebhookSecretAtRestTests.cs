using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Secrets;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// On a member with a master key, a webhook's signing secret is stored wrapped by it (ADR 0016): the record in the
/// system keyspace holds no plaintext, and the leader still signs with the secret shown at creation.
/// </summary>
public sealed class WebhookSecretAtRestTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_a_master_key_the_stored_secret_is_wrapped_and_requests_are_still_signed_with_it()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await TestNode.StartInProcessAsync(output, o => o with
        {
            ConfigMasterKeys = new LocalMasterKeys([RandomNumberGenerator.GetBytes(32)]),
            Webhooks = new WebhookOptions { Retry = WebhookTests.FastRetry, PollInterval = TimeSpan.FromMilliseconds(100) },
        });
        using var http = node.CreateHttpClient();
        http.DefaultRequestHeaders.Add(ConfigHttpApi.AuthorHeader, "alice");
        (await http.PostAsJsonAsync("/api/v1/apps", new { id = "sealed" })).EnsureSuccessStatusCode();
        using var created = await http.PostAsJsonAsync("/api/v1/apps/sealed/webhooks", new { url = receiver.Url });
        var issued = await created.Content.ReadFromJsonAsync<JsonElement>();
        var secret = issued.GetProperty("secret").GetString()!;
        receiver.Secret = secret;
        var id = issued.GetProperty("webhook").GetProperty("id").GetString()!;

        var stored = node.Server.Node.Store.SystemKeyspace.Range(new RangeRequest { Key = ConfigKeys.Webhook("sealed", id) }).Kvs.Single().Value.ToStringUtf8();
        output.WriteLine(stored);
        Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[6..], stored, StringComparison.Ordinal);
        Assert.Contains("wrappedSecret", stored, StringComparison.Ordinal);

        (await http.PostAsync($"/api/v1/apps/sealed/webhooks/{id}/ping", null)).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => !receiver.Requests.IsEmpty, Eventually.DefaultTimeout, "the ping arrives");
        Assert.True(receiver.Requests.Single().SignatureVerified, "signed with the secret shown at creation");
    }
}

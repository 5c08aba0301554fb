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
/// system keyspace holds no plaintext, and the leader still signs with the secret shown at creation, also after
/// <c>keys rotate</c> moved it to a new master key and the old key is gone.
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

    [Fact]
    public async Task Key_rotation_re_wraps_the_secret_so_deliveries_are_signed_with_it_after_the_old_key_is_gone()
    {
        byte[] oldKey = RandomNumberGenerator.GetBytes(32), newKey = RandomNumberGenerator.GetBytes(32);
        var keys = new SwitchableMasterKeys(new LocalMasterKeys([oldKey]));
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await TestNode.StartInProcessAsync(output, o => o with
        {
            ConfigMasterKeys = keys,
            Webhooks = new WebhookOptions { Retry = WebhookTests.FastRetry, PollInterval = TimeSpan.FromMilliseconds(100) },
        });
        using var http = node.CreateHttpClient();
        http.DefaultRequestHeaders.Add(ConfigHttpApi.AuthorHeader, "alice");
        (await http.PostAsJsonAsync("/api/v1/apps", new { id = "rotating" })).EnsureSuccessStatusCode();
        using var created = await http.PostAsJsonAsync("/api/v1/apps/rotating/webhooks", new { url = receiver.Url });
        var issued = await created.Content.ReadFromJsonAsync<JsonElement>();
        receiver.Secret = issued.GetProperty("secret").GetString()!;
        var id = issued.GetProperty("webhook").GetProperty("id").GetString()!;
        Assert.Equal(LocalMasterKeys.IdOf(oldKey), StoredKeyId(node, id));

        // Every member gets the new key first (the old one still held), then the rotation moves everything under it.
        keys.Current = new LocalMasterKeys([newKey, oldKey]);
        using var rotate = await http.PostAsync("/api/v1/keys/rotate", null);
        rotate.EnsureSuccessStatusCode();
        var result = await rotate.Content.ReadFromJsonAsync<JsonElement>();
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.GetProperty("webhookSecretsRewrapped").GetInt32());
        Assert.Empty(result.GetProperty("failed").EnumerateArray());
        Assert.Equal(LocalMasterKeys.IdOf(newKey), StoredKeyId(node, id));
        var again = await (await http.PostAsync("/api/v1/keys/rotate", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(0, again.GetProperty("webhookSecretsRewrapped").GetInt32());
        Assert.Equal(1, again.GetProperty("webhookSecretsAlreadyCurrent").GetInt32());

        // The old key removed: a delivery is still signed with the secret shown at creation.
        keys.Current = new LocalMasterKeys([newKey]);
        (await http.PostAsync($"/api/v1/apps/rotating/webhooks/{id}/ping", null)).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => !receiver.Requests.IsEmpty, Eventually.DefaultTimeout, "the ping arrives");
        Assert.True(receiver.Requests.Single().SignatureVerified, "signed with the secret shown at creation");
        using var audit = await http.GetAsync("/api/v1/apps/rotating/audit");
        Assert.Contains("webhook secret re-wrapped", await audit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string? StoredKeyId(TestNode node, string id) =>
        JsonDocument.Parse(node.Server.Node.Store.SystemKeyspace.Range(new RangeRequest { Key = ConfigKeys.Webhook("rotating", id) }).Kvs.Single().Value.ToStringUtf8())
            .RootElement.GetProperty("masterKeyId").GetString();

    /// <summary>A member's master keys as an operator changes them across restarts (new key added, rotation, old key removed), without the restarts.</summary>
    private sealed class SwitchableMasterKeys(IMasterKeyProvider initial) : IMasterKeyProvider
    {
        public IMasterKeyProvider Current { get; set; } = initial;

        public string CurrentKeyId => Current.CurrentKeyId;

        public IReadOnlyList<string> KeyIds => Current.KeyIds;

        public ValueTask<byte[]> WrapAsync(ReadOnlyMemory<byte> dataKey, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default) =>
            Current.WrapAsync(dataKey, associatedData, cancellationToken);

        public ValueTask<byte[]> UnwrapAsync(string keyId, ReadOnlyMemory<byte> wrapped, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default) =>
            Current.UnwrapAsync(keyId, wrapped, associatedData, cancellationToken);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// An item key travels in the URL path (<c>.../items/{key}</c>), escaped; it is stored and delivered exactly as the
/// editor wrote it. Before, Kestrel left <c>%2F</c> undecoded in the route value, so <c>a/b</c> was stored and delivered
/// as <c>a%2Fb</c>.
/// </summary>
public sealed class ItemKeyPathTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Theory]
    [InlineData("a/b")]
    [InlineData("db/primary/host")]
    [InlineData("a%2Fb")]
    [InlineData("per%cent")]
    [InlineData("a+b?c&d")]
    [InlineData("naïve.ключ")]
    public async Task A_key_is_stored_and_delivered_verbatim(string key)
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "p", Model.NamespaceFormat.Properties, null, NodeFixture.Alice);
        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "alice");
        var ns = $"/api/v1/apps/{app}/envs/DEV/namespaces/p";

        using (var set = await http.PutAsJsonAsync($"{ns}/items/{Uri.EscapeDataString(key)}", new { value = "v1" }))
        {
            Assert.True(set.IsSuccessStatusCode, await set.Content.ReadAsStringAsync());
        }

        var stored = Assert.Single((await fixture.Center.GetNamespaceAsync(app, "DEV", "p")).Items);
        Assert.Equal(key, stored.Key);

        using (var publish = await http.PostAsJsonAsync($"{ns}/releases", new { title = "r1" }))
        {
            Assert.True(publish.IsSuccessStatusCode, await publish.Content.ReadAsStringAsync());
        }

        var effective = JsonDocument.Parse(await http.GetStringAsync($"{ns}/effective?instanceId=i1")).RootElement;
        var configurations = effective.GetProperty("release").GetProperty("configurations");
        Assert.Equal("v1", configurations.GetProperty(key).GetString());

        using (var delete = await http.DeleteAsync($"{ns}/items/{Uri.EscapeDataString(key)}"))
        {
            Assert.True(delete.IsSuccessStatusCode, await delete.Content.ReadAsStringAsync());
        }

        Assert.Empty((await fixture.Center.GetNamespaceAsync(app, "DEV", "p")).Items);
    }

    [Fact]
    public async Task A_key_with_a_forbidden_character_is_refused_naming_it()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "p", Model.NamespaceFormat.Properties, null, NodeFixture.Alice);
        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "alice");
        using var set = await http.PutAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/p/items/{Uri.EscapeDataString("a=b")}", new { value = "v1" });
        Assert.Equal(HttpStatusCode.BadRequest, set.StatusCode);
        Assert.Contains("'='", await set.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

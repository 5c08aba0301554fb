using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Primitives;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// What Microsoft.Extensions.Configuration expects of a provider, checked on Conclave's against the framework's own
/// providers holding the same data: case-insensitive keys, child keys, json flattening, reload token semantics.
/// </summary>
public sealed class ConformanceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const string Json = """
        {
          "Logging": { "LogLevel": { "Default": "Information", "Conclave": "Debug" } },
          "Orders": { "Greeting": "hello", "Limits": [ 1, 2, 3 ], "Nested": { "A": { "B": "deep" } }, "Empty": [], "Nothing": null, "On": false },
          "Top": 1.50
        }
        """;

    [Fact]
    public async Task A_json_namespace_serves_exactly_what_AddJsonStream_serves_for_the_same_document()
    {
        using var admin = await fixture.NewAppAsync(("settings.json", "json"));
        await admin.SetContentAsync("settings.json", Json);
        await admin.PublishAsync("settings.json");
        using var conclave = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "settings.json"));
        await using var provider = conclave.Provider();
        var framework = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Json))).Build();

        Assert.Equal(Flat(framework), Flat(conclave));
        foreach (var path in new[] { "Orders", "Orders:Limits", "Logging:LogLevel", "Orders:Nested:A" })
        {
            Assert.Equal(framework.GetSection(path).GetChildren().Select(c => c.Key), conclave.GetSection(path).GetChildren().Select(c => c.Key));
        }
    }

    [Fact]
    public async Task Keys_are_case_insensitive_and_child_keys_merge_like_a_memory_provider()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetItemAsync("application", "Orders.Greeting", "hello");
        await admin.SetItemAsync("application", "Orders.Limits.Max", "9");
        await admin.SetItemAsync("application", "orders.limits.min", "1");
        await admin.PublishAsync("application");
        var data = new Dictionary<string, string?> { ["Orders:Greeting"] = "hello", ["Orders:Limits:Max"] = "9", ["orders:limits:min"] = "1" };
        using var conclave = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1"));
        await using var provider = conclave.Provider();
        var memory = new MemoryConfigurationProvider(new MemoryConfigurationSource { InitialData = data });

        Assert.Equal("hello", conclave["ORDERS:GREETING"]);
        Assert.True(provider.TryGet("orders:LIMITS:max", out var max));
        Assert.Equal("9", max);
        foreach (var parent in new[] { null, "Orders", "ORDERS:limits" })
        {
            Assert.Equal(memory.GetChildKeys(["earlier"], parent), provider.GetChildKeys(["earlier"], parent));
        }
    }

    [Fact]
    public async Task The_reload_token_fires_once_per_release_and_is_replaced_and_Reload_keeps_the_values()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetAndPublishAsync("application", "K", "1");
        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1"));
        await using var provider = root.Provider();
        await ProviderTests.WaitConnectedAsync(provider);
        var first = provider.GetReloadToken();
        Assert.False(first.HasChanged);
        var fired = 0;
        using var registration = first.RegisterChangeCallback(_ => Interlocked.Increment(ref fired), null);

        // Reload() asks every provider to Load again: Conclave's values are pushed, so nothing changes and no round trip is made.
        root.Reload();
        Assert.Equal("1", root["K"]);
        Assert.False(first.HasChanged);

        await admin.SetAndPublishAsync("application", "K", "2");
        // The token reports HasChanged before its callbacks have run (they run on the thread that fires it): wait for both.
        await Eventually.WaitAsync(() => first.HasChanged && Volatile.Read(ref fired) > 0, Eventually.DefaultTimeout, "the reload token to fire and call back");
        Assert.Equal("2", root["K"]);
        Assert.Equal(1, Volatile.Read(ref fired));
        var second = provider.GetReloadToken();
        Assert.NotSame(first, second);
        Assert.False(second.HasChanged);

        var changes = 0;
        using var callback = ChangeToken.OnChange(provider.GetReloadToken, () => Interlocked.Increment(ref changes));
        await admin.SetAndPublishAsync("application", "K", "3");
        await Eventually.WaitAsync(() => root["K"] == "3", Eventually.DefaultTimeout, "the third release");
        await Eventually.WaitAsync(() => Volatile.Read(ref changes) == 1, Eventually.DefaultTimeout, "one change callback");
    }

    private static List<KeyValuePair<string, string?>> Flat(IConfiguration configuration) =>
        [.. configuration.AsEnumerable().OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)];
}

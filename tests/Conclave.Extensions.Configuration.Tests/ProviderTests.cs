using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>The provider against a real in-process member: load, live push, rollback, gray, validation.</summary>
public sealed class ProviderTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = Eventually.DefaultTimeout;

    [Fact]
    public async Task Initial_load_maps_properties_flattens_json_and_later_namespaces_override()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"), ("unreleased", "properties"), ("db.json", "json"), ("flags.yaml", "yaml"));
        await admin.SetItemAsync("application", "Orders.Greeting", "hello");
        await admin.SetItemAsync("application", "Db.Pool", "5");
        await admin.PublishAsync("application");
        await admin.SetContentAsync("db.json", """{"Db": {"Pool": 20, "Hosts": ["a", "b"], "Tls": true, "Empty": {}}}""");
        await admin.PublishAsync("db.json");
        await admin.SetContentAsync("flags.yaml", "Flags:\n  Beta: on\n  Regions:\n    - eu\n    - us\n");
        await admin.PublishAsync("flags.yaml");

        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "application", "unreleased", "db.json", "flags.yaml"));
        await using var provider = root.Provider();

        Assert.Equal("hello", root["Orders:Greeting"]);
        Assert.Equal("20", root["Db:Pool"]);
        Assert.Equal("b", root["Db:Hosts:1"]);
        Assert.Equal("True", root["Db:Tls"], ignoreCase: true);
        Assert.Equal("", root["Db:Empty"]);
        Assert.Equal("on", root["Flags:Beta"]);
        Assert.Equal("us", root["Flags:Regions:1"]);
        Assert.Equal(ConclaveConfigurationOrigin.Server, provider.Status.Origin);
        Assert.Equal(1, provider.Status.Releases["db.json"]);
        Assert.False(provider.Status.Releases.ContainsKey("unreleased"));

        // A namespace's first release arrives live like any other.
        await ProviderTests.WaitConnectedAsync(provider);
        await admin.SetAndPublishAsync("unreleased", "Late.Key", "here");
        await Eventually.WaitAsync(() => root["Late:Key"] == "here", Deadline, "the first release of a namespace that had none");
    }

    [Fact]
    public async Task A_published_release_reaches_IOptionsMonitor_OnChange_once_with_the_changed_keys()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetItemAsync("application", "Orders.Greeting", "hello");
        await admin.SetAndPublishAsync("application", "Orders.MaxItems", "3");
        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1"));
        await using var provider = root.Provider();
        await using var services = Services(root);
        var monitor = services.GetRequiredService<IOptionsMonitor<OrdersOptions>>();
        Assert.Equal("hello", monitor.CurrentValue.Greeting);

        var seen = new ConcurrentQueue<OrdersOptions>();
        using var subscription = monitor.OnChange(o => seen.Enqueue(o));
        var reloads = 0;
        using var reloadCallback = ChangeToken.OnChange(root.GetReloadToken, () => Interlocked.Increment(ref reloads));
        var changes = new ConcurrentQueue<ConclaveConfigurationChangedEventArgs>();
        provider.Changed += (_, e) => changes.Enqueue(e);
        await WaitConnectedAsync(provider);

        var id = await admin.SetAndPublishAsync("application", "Orders.Greeting", "bonjour");

        await Eventually.WaitAsync(() => !changes.IsEmpty, Deadline, "the Changed event for the new release");
        var change = Assert.Single(changes);
        Assert.Equal(["Orders:Greeting"], change.ChangedKeys);
        Assert.Equal(id, Assert.Single(change.Releases).ReleaseId);
        Assert.Equal("bonjour", Assert.Single(seen).Greeting);
        Assert.Equal(3, monitor.CurrentValue.MaxItems);
        Assert.Equal(1, Volatile.Read(ref reloads));
        await Eventually.WaitAsync(async _ => (await admin.ConvergenceAsync("application", id)).GetProperty("applied").GetInt32() == 1, Deadline, "the applied report");
    }

    [Fact]
    public async Task A_rollback_reaches_OnChange()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        var first = await admin.SetAndPublishAsync("application", "Orders.Greeting", "one");
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "two");
        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1"));
        await using var provider = root.Provider();
        await using var services = Services(root);
        var monitor = services.GetRequiredService<IOptionsMonitor<OrdersOptions>>();
        Assert.Equal("two", monitor.CurrentValue.Greeting);
        var seen = new ConcurrentQueue<string>();
        using var subscription = monitor.OnChange(o => seen.Enqueue(o.Greeting));
        await WaitConnectedAsync(provider);

        var rollback = await admin.RollbackAsync("application", first);

        await Eventually.WaitAsync(() => seen.Contains("one"), Deadline, "OnChange with the rolled-back value");
        Assert.Equal(rollback, provider.Status.Releases["application"]);
    }

    [Fact]
    public async Task A_gray_release_reaches_only_the_matching_instance()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"), ("other", "properties"));
        await admin.SetAndPublishAsync("application", "Mode", "stable");
        await admin.SetAndPublishAsync("other", "X", "1");
        using var rootA = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-a", "application", "other"));
        using var rootB = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-b", "application", "other"));
        await using var providerA = rootA.Provider();
        await using var providerB = rootB.Provider();
        await WaitConnectedAsync(providerA);
        await WaitConnectedAsync(providerB);
        var grayArgs = new ConcurrentQueue<ConclaveConfigurationChangedEventArgs>();
        providerA.Changed += (_, e) => grayArgs.Enqueue(e);

        await admin.SetItemAsync("application", "Mode", "canary");
        var gray = await admin.GrayPublishAsync("application", ["pod-a"]);
        await Eventually.WaitAsync(() => !grayArgs.IsEmpty, Deadline, "pod-a on the gray release");
        Assert.Equal("canary", rootA["Mode"]);
        Assert.True(Assert.Single(grayArgs).Releases[0].IsGray);

        // The server sends one subscriber's changes in revision order: once pod-b has the later release of
        // "other", it has been sent everything before it, and the gray release was not among it.
        var later = await admin.SetAndPublishAsync("other", "X", "2");
        await Eventually.WaitAsync(() => rootB["X"] == "2", Deadline, "pod-b on the later release of 'other'");
        Assert.Equal("stable", rootB["Mode"]);
        Assert.Equal(1, providerB.Status.Releases["application"]);
        Assert.Equal(gray, providerA.Status.Releases["application"]);
        Assert.Equal(later, providerB.Status.Releases["other"]);
    }

    [Fact]
    public async Task A_release_rejected_by_validation_is_not_applied_and_is_reported_with_the_message()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetItemAsync("application", "Orders.Greeting", "hello");
        await admin.SetAndPublishAsync("application", "Orders.MaxItems", "5");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConclave(o =>
        {
            o.Endpoints = [fixture.Node.Endpoint];
            o.App = admin.App;
            o.Environment = "PRO";
            o.InstanceId = "pod-v";
        });
        var provider = builder.Configuration.Provider();
        try
        {
            builder.Services.AddConclaveOptions<OrdersOptions>("Orders").ValidateDataAnnotations()
                .Validate(o => o.Greeting.Length > 0, "Greeting must not be empty");
            using var host = builder.Build();
            await host.StartAsync();
            var monitor = host.Services.GetRequiredService<IOptionsMonitor<OrdersOptions>>();
            var seen = new ConcurrentQueue<OrdersOptions>();
            using var subscription = monitor.OnChange(o => seen.Enqueue(o));
            await WaitConnectedAsync(provider);

            var bad = await admin.SetAndPublishAsync("application", "Orders.MaxItems", "0");

            await Eventually.WaitAsync(() => provider.Status.LastRejection is not null, Deadline, "the rejection");
            Assert.Contains("MaxItems", provider.Status.LastRejection, StringComparison.Ordinal);
            Assert.Equal(5, monitor.CurrentValue.MaxItems);
            Assert.Equal("5", builder.Configuration["Orders:MaxItems"]);
            Assert.Empty(seen);
            var convergence = await Eventually.WaitForAsync(
                _ => admin.ConvergenceAsync("application", bad),
                c => c.GetProperty("rejected").GetArrayLength() == 1,
                Deadline,
                "the rejected report");
            var rejected = convergence.GetProperty("rejected")[0];
            Assert.Equal("pod-v", rejected.GetProperty("instanceId").GetString());
            Assert.Contains("MaxItems", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);

            var good = await admin.SetAndPublishAsync("application", "Orders.MaxItems", "7");
            await Eventually.WaitAsync(() => seen.Any(o => o.MaxItems == 7), Deadline, "OnChange with the valid release");
            await Eventually.WaitAsync(async _ => (await admin.ConvergenceAsync("application", good)).GetProperty("applied").GetInt32() == 1, Deadline, "the applied report");
            await host.StopAsync();
        }
        finally
        {
            await provider.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_missing_app_fails_a_required_source_at_once_and_starts_an_optional_one_empty()
    {
        var options = Sources.Options(fixture.Node.Endpoint, CenterAdmin.NewAppId(), "pod-1");
        var error = Assert.Throws<ConclaveStartupException>(() => Sources.Build(options));
        Assert.Contains(fixture.Node.Endpoint, error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);

        options.Optional = true;
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        Assert.Empty(root.AsEnumerable());
        Assert.Equal(ConclaveConfigurationOrigin.None, provider.Status.Origin);
    }

    internal static async Task WaitConnectedAsync(ConclaveConfigurationProvider provider) =>
        await Eventually.WaitAsync(() => provider.Status.Connected, Deadline, "the subscription to connect");

    private static ServiceProvider Services(IConfiguration configuration)
    {
        var services = new ServiceCollection().AddSingleton(configuration);
        services.AddOptions<OrdersOptions>().Bind(configuration.GetSection("Orders"));
        return services.BuildServiceProvider();
    }
}

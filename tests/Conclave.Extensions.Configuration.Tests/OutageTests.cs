using System.Diagnostics;
using System.Text;
using Conclave.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// The service down at start-up (cache, optional, required), a tampered cache, and a subscription that resumes
/// after the member restarts, against the real <c>conclave serve</c> as a child process (stopped and restarted on
/// the same data directory and ports).
/// </summary>
public sealed class OutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = Eventually.DefaultTimeout;
    private readonly TempDirectory directory = TempDirectory.Create("conclave-provider-");
    private NodeProcess node = null!;
    private CenterAdmin admin = null!;

    public async Task InitializeAsync()
    {
        node = await NodeProcess.StartAsync(directory.Combine("data"), new NodeProcessOptions { Output = output });
        admin = new CenterAdmin(node.HttpUrl, CenterAdmin.NewAppId());
        await admin.CreateAppAsync();
        await admin.CreateNamespaceAsync("application");
        await admin.SetItemAsync("application", "Db.Password", "s3cret-value-42");
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "one");
    }

    public async Task DisposeAsync()
    {
        admin.Dispose();
        await node.DisposeAsync();
        directory.Dispose();
    }

    [Fact]
    public async Task Down_with_a_cache_serves_the_cached_values_degraded_then_goes_live_when_the_service_returns()
    {
        var options = WithCache(Sources.Options(node.Endpoint, admin.App, "pod-1"));
        await WarmCacheAsync(options);
        await node.StopAsync(TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        using var root = Sources.Build(options);
        var loadTime = clock.Elapsed;
        await using var provider = root.Provider();
        Assert.Equal("one", root["Orders:Greeting"]);
        Assert.Equal("s3cret-value-42", root["Db:Password"]);
        Assert.Equal(ConclaveConfigurationOrigin.Cache, provider.Status.Origin);
        Assert.True(loadTime < options.StartupTimeout + TimeSpan.FromSeconds(2), $"Load took {loadTime}");
        var health = new ConclaveHealthCheck(root);
        var degraded = await health.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("cache", degraded.Description, StringComparison.Ordinal);

        await node.RestartAsync();
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "two");

        await Eventually.WaitAsync(() => root["Orders:Greeting"] == "two", Deadline, "the live value after the service returned");
        Assert.Equal(ConclaveConfigurationOrigin.Server, provider.Status.Origin);
        await Eventually.WaitAsync(async ct => (await health.CheckHealthAsync(new HealthCheckContext(), ct)).Status == HealthStatus.Healthy, Deadline, "healthy again");
    }

    [Fact]
    public async Task Down_without_a_cache_an_optional_source_starts_empty_and_fills_in_a_required_one_fails_naming_the_endpoint()
    {
        await node.StopAsync(TimeSpan.FromSeconds(10));
        var options = Sources.Options(node.Endpoint, admin.App, "pod-1");
        options.StartupTimeout = TimeSpan.FromSeconds(2);

        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<ConclaveStartupException>(() => Sources.Build(options));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"a required source failed only after {clock.Elapsed}");
        Assert.Contains(node.Endpoint, error.Message, StringComparison.Ordinal);
        Assert.Contains("cache is off", error.Message, StringComparison.Ordinal);
        Assert.Equal([node.Endpoint], error.Endpoints);

        options.Optional = true;
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        Assert.Null(root["Orders:Greeting"]);
        Assert.Equal(ConclaveConfigurationOrigin.None, provider.Status.Origin);

        await node.RestartAsync();
        await Eventually.WaitAsync(() => root["Orders:Greeting"] == "one", Deadline, "the values once the service started");
    }

    [Fact]
    public async Task The_cache_is_encrypted_and_a_tampered_or_foreign_cache_is_rejected_not_loaded()
    {
        var options = WithCache(Sources.Options(node.Endpoint, admin.App, "pod-1"));
        var path = await WarmCacheAsync(options);
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal("CLKG"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, bytes[4]);
        Assert.DoesNotContain("s3cret-value-42", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        Assert.DoesNotContain("Orders", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        await node.StopAsync(TimeSpan.FromSeconds(10));

        // The untouched file loads.
        using (var root = Sources.Build(options))
        {
            await using var provider = root.Provider();
            Assert.Equal("one", root["Orders:Greeting"]);
        }

        var tampered = (byte[])bytes.Clone();
        tampered[^3] ^= 0x01;
        await File.WriteAllBytesAsync(path, tampered);
        var logs = new ListLoggerFactory();
        options.LoggerFactory = logs;
        var error = Assert.Throws<ConclaveStartupException>(() => Sources.Build(options));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("was rejected and not loaded", StringComparison.Ordinal) && l.Contains("authentication failed", StringComparison.Ordinal));

        // The same bytes under another source's identity (another app's file copied over) do not open either.
        await File.WriteAllBytesAsync(path, bytes);
        var foreign = WithCache(Sources.Options(node.Endpoint, admin.App + "x", "pod-1"));
        foreign.CacheKey = options.CacheKey;
        foreign.CachePath = path;
        foreign.Optional = true;
        using var foreignRoot = Sources.Build(foreign);
        await using var foreignProvider = foreignRoot.Provider();
        Assert.Null(foreignRoot["Orders:Greeting"]);
        Assert.Equal(ConclaveConfigurationOrigin.None, foreignProvider.Status.Origin);
    }

    [Fact]
    public async Task The_subscription_resumes_after_the_member_restarts_without_missing_a_release_published_while_disconnected()
    {
        // The reconnect back-off runs on a manual clock, so the test decides that the release is published while
        // the subscriber is certainly disconnected, and only then lets it reconnect.
        var clock = new ManualClock();
        await using var client = new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = [node.Endpoint],
            InstanceId = "pod-r",
            TimeProvider = clock,
            RequestTimeout = Timeout.InfiniteTimeSpan,
            RetryBaseDelay = TimeSpan.FromSeconds(1),
            RetryMaxDelay = TimeSpan.FromSeconds(1),
        });
        var options = Sources.Options(node.Endpoint, admin.App, "pod-r");
        options.Client = client;
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        var applied = new List<long>();
        provider.Changed += (_, e) => { lock (applied) { applied.AddRange(e.Releases.Select(r => r.ReleaseId)); } };
        await ProviderTests.WaitConnectedAsync(provider);

        await node.StopAsync(TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(() => !provider.Status.Connected, Deadline, "the subscription to notice the stop");
        await node.RestartAsync();
        var published = await admin.SetAndPublishAsync("application", "Orders.Greeting", "published-while-disconnected");
        Assert.False(provider.Status.Connected);
        Assert.Equal("one", root["Orders:Greeting"]);

        await Eventually.WaitAsync(
            () =>
            {
                clock.Advance(TimeSpan.FromSeconds(2));
                // The provider reloads the configuration, then raises Changed: wait for both.
                lock (applied)
                {
                    return root["Orders:Greeting"] == "published-while-disconnected" && applied.Count > 0;
                }
            },
            Deadline,
            "the release published while disconnected, and its Changed event");
        lock (applied)
        {
            Assert.Equal([published], applied);
        }
    }

    private ConclaveConfigurationOptions WithCache(ConclaveConfigurationOptions options)
    {
        options.CacheKey = Sources.NewCacheKey();
        // Inside the test's own temporary directory, so it is deleted with it.
        options.CacheDirectory = directory.Combine("cache-" + Guid.NewGuid().ToString("N")[..8]);
        return options;
    }

    /// <summary>Loads once from the service so the cache file is written; returns its path.</summary>
    private static async Task<string> WarmCacheAsync(ConclaveConfigurationOptions options)
    {
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        var path = provider.CacheFilePath!;
        await Eventually.WaitAsync(() => File.Exists(path), Deadline, "the cache file");
        return path;
    }
}

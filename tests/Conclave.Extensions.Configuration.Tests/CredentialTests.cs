using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// The provider with app credentials (ADR 0015 decision 5) against a real member: a valid key loads and follows
/// releases; another app's key is refused; revoking the key ends the subscription within seconds and the app keeps
/// its last known good values, saying so in its status and health check.
/// </summary>
public sealed class CredentialTests(NodeFixture fixture, ITestOutputHelper output) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = Eventually.DefaultTimeout;

    [Fact]
    public async Task A_valid_key_loads_and_receives_releases_and_a_revoked_one_keeps_the_last_known_good_values()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "hello");
        var (id, key) = await admin.CreateCredentialAsync("pods");

        var options = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1");
        options.AccessKey = key;
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        Assert.Equal("hello", root["Orders:Greeting"]);
        await ProviderTests.WaitConnectedAsync(provider);

        var released = await admin.SetAndPublishAsync("application", "Orders.Greeting", "bonjour");
        await Eventually.WaitAsync(() => root["Orders:Greeting"] == "bonjour", Deadline, "the release through the credential");
        await Eventually.WaitAsync(async _ => (await admin.ConvergenceAsync("application", released)).GetProperty("applied").GetInt32() == 1, Deadline, "the applied report, sent with the key");

        var clock = Stopwatch.StartNew();
        await admin.RevokeCredentialAsync(id);
        await Eventually.WaitAsync(() => provider.Status.AccessRefused, TimeSpan.FromSeconds(10), "the subscription to end with the revoked key");
        clock.Stop();
        output.WriteLine($"the provider saw the revocation {clock.ElapsedMilliseconds} ms after it returned");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));

        // The last known good values stay; a release made now does not arrive; the health check says why.
        Assert.False(provider.Status.Connected);
        Assert.Contains("revoked", provider.Status.LastError);
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "hola");
        var health = await new ConclaveHealthCheck(root).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("access key", health.Description);
        Assert.Equal("bonjour", root["Orders:Greeting"]);
        Assert.True(provider.Status.AccessRefused);
        Assert.Equal(ConclaveConfigurationOrigin.Server, provider.Status.Origin);
    }

    [Fact]
    public async Task Another_apps_key_is_refused_at_start_up()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "hello");
        await admin.CreateCredentialAsync();
        using var other = await fixture.NewAppAsync(("application", "properties"));
        var (_, theirs) = await other.CreateCredentialAsync();

        var options = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1");
        options.AccessKey = theirs;
        var refused = Assert.Throws<ConclaveStartupException>(() => Sources.Build(options));
        Assert.Contains(other.App, refused.Message);

        // No key at all: refused too, since the app has an active credential.
        var none = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1");
        Assert.Throws<ConclaveStartupException>(() => Sources.Build(none));
    }

    [Fact]
    public void The_key_comes_from_the_option_or_the_settings_section()
    {
        var options = Sources.Options(fixture.Node.Endpoint, "some-app", "pod-1");
        options.AccessKey = "from-option";
        Assert.Equal("from-option", new ConclaveConfigurationProvider(options).Target.AccessKey);
        Assert.Equal("from-section", ReadSection("from-section"));

        static string? ReadSection(string value)
        {
            var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Conclave:AccessKey"] = value, ["Conclave:App"] = "a", ["Conclave:Environment"] = "PRO" }).Build().GetSection("Conclave");
            var options = new ConclaveConfigurationOptions();
            Internal.SourceSettings.Read(section, options);
            return options.AccessKey;
        }
    }
}

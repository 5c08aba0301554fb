using Conclave.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary><c>AddConclave(section)</c>, <c>AddConclaveClient(section)</c> and the health check, wired as an app does.</summary>
public sealed class RegistrationTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Settings_come_from_configuration_and_the_client_and_health_check_are_registered()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetAndPublishAsync("application", "Orders.Greeting", "hi");
        var dead = $"127.0.0.1:{FreePorts.Take(1)[0]}";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // A dead endpoint first: the provider's client moves on to the live one.
            ["Conclave:Endpoints"] = $"{dead}, {fixture.Node.Endpoint}",
            ["Conclave:App"] = admin.App,
            ["Conclave:Environment"] = "PRO",
            ["Conclave:Namespaces:0"] = "application",
            ["Conclave:InstanceId"] = "pod-reg",
            ["Conclave:Labels:zone"] = "eu1",
            ["Conclave:StartupTimeout"] = "00:00:10",
        });
        builder.Configuration.AddConclave(builder.Configuration.GetSection("Conclave"));
        var provider = builder.Configuration.Provider();
        try
        {
            Assert.Equal("hi", builder.Configuration["Orders:Greeting"]);
            Assert.Equal("pod-reg", provider.Target.InstanceId);
            Assert.Equal("eu1", provider.Target.Labels["zone"]);
            Assert.Equal(["http://" + dead, fixture.Node.Endpoint], provider.Endpoints);

            builder.Services.AddConclaveClient(builder.Configuration.GetSection("Conclave"));
            using var host = builder.Build();
            var client = host.Services.GetRequiredService<ConclaveClient>();
            Assert.Equal("pod-reg", client.Options.InstanceId);
            Assert.Equal(2, client.Endpoints.Count);
            await ProviderTests.WaitConnectedAsync(provider);
            var health = host.Services.GetRequiredService<HealthCheckService>();
            var report = await Eventually.WaitForAsync(
                ct => health.CheckHealthAsync(ct),
                r => r.Status == HealthStatus.Healthy,
                Eventually.DefaultTimeout,
                "a healthy report");
            Assert.Contains(ConclaveServiceCollectionExtensions.HealthCheckName, report.Entries.Keys);
        }
        finally
        {
            await provider.DisposeAsync();
        }
    }

    [Fact]
    public void Bad_settings_are_refused_up_front_naming_the_setting()
    {
        var missingApp = Assert.Throws<ArgumentException>(() => new ConfigurationBuilder().AddConclave(o => o.Environment = "PRO").Build());
        Assert.Contains("App", missingApp.Message, StringComparison.Ordinal);
        var badKey = Assert.Throws<ArgumentException>(() => new ConfigurationBuilder().AddConclave(o =>
        {
            o.App = "a";
            o.Environment = "PRO";
            o.CacheKey = "not-a-key";
        }).Build());
        Assert.Contains("CONCLAVE_CACHE_KEY", badKey.Message, StringComparison.Ordinal);
    }
}

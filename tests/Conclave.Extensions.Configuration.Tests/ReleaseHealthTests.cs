using Conclave.Extensions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// The provider reports the app's health checks after applying a release (issue 22 item 2): a release that makes the
/// app unhealthy is reported so, a rollout plan on the member halts on that report and rolls the release back, the app
/// gets the main release again, recovers, and reports it applied.
/// </summary>
public sealed class ReleaseHealthTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = Eventually.DefaultTimeout;

    [Fact]
    public async Task A_release_that_makes_the_app_unhealthy_halts_its_rollout_and_the_app_gets_the_main_release_back()
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        var good = await admin.SetAndPublishAsync("application", "Search.Ranker", "bm25");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConclave(o =>
        {
            o.Endpoints = [fixture.Node.Endpoint];
            o.App = admin.App;
            o.Environment = "PRO";
            o.InstanceId = "pod-h";
        });
        var provider = builder.Configuration.Provider();
        try
        {
            // The app's own check: unhealthy while the ranker is "broken".
            var configuration = builder.Configuration;
            builder.Services.AddConclaveReleaseHealthReports(TimeSpan.FromMilliseconds(300))
                .AddCheck("ranker", () => configuration["Search:Ranker"] == "broken" ? HealthCheckResult.Unhealthy("the ranker does not load") : HealthCheckResult.Healthy());
            using var host = builder.Build();
            await host.StartAsync();
            await ProviderTests.WaitConnectedAsync(provider);

            await admin.SetItemAsync("application", "Search.Ranker", "broken");
            var gray = await admin.StartRolloutAsync("application", "100%@600s", maxUnhealthyPercent: 0);

            // The instance applies it, its check fails, it reports unhealthy; the plan halts and rolls back.
            var plan = await Eventually.WaitForAsync(
                async _ => (await admin.NamespaceAsync("application")).GetProperty("rollout"),
                r => r.GetProperty("status").GetString() == "Halted",
                Deadline,
                "the plan halts on the unhealthy report");
            Assert.Contains("unhealthy", plan.GetProperty("outcome").GetString(), StringComparison.Ordinal);
            Assert.Equal(1, plan.GetProperty("results")[0].GetProperty("unhealthy").GetInt32());
            await Eventually.WaitAsync(() => builder.Configuration["Search:Ranker"] == "bm25", Deadline, "the app is back on the main release");
            Assert.Equal(good, provider.Status.Releases["application"]);
            await Eventually.WaitAsync(async _ => (await admin.ConvergenceAsync("application", good)).GetProperty("applied").GetInt32() == 1, Deadline, "the app reports the main release applied");
            Assert.NotEqual(gray, good);
            await host.StopAsync();
        }
        finally
        {
            await provider.DisposeAsync();
        }
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Extensions.Configuration;

/// <summary>
/// After each release the service pushes is applied, waits <see cref="Settle"/> and runs the app's health checks (all
/// but Conclave's own); if the app is unhealthy it reports the releases it runs as unhealthy, with the failing checks, so
/// a rollout plan on the center halts and rolls the release back. While unhealthy it checks again every
/// <see cref="Settle"/> and reports the releases applied once the app recovers. Registered by
/// <c>AddConclaveReleaseHealthReports</c>.
/// </summary>
public sealed class ConclaveReleaseHealthReporter : BackgroundService
{
    private readonly IConfiguration configuration;
    private readonly HealthCheckService health;
    private readonly ILogger logger;
    private readonly SemaphoreSlim applied = new(0);

    /// <summary>Creates the reporter.</summary>
    /// <param name="configuration">The app's configuration, whose Conclave providers report.</param>
    /// <param name="health">The app's health checks.</param>
    /// <param name="settle">How long after applying a release the checks run (default 30 s).</param>
    /// <param name="logger">Where decisions are logged.</param>
    public ConclaveReleaseHealthReporter(IConfiguration configuration, HealthCheckService health, TimeSpan? settle = null, ILogger<ConclaveReleaseHealthReporter>? logger = null)
    {
        this.configuration = configuration;
        this.health = health;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        Settle = settle ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>How long after applying a release the checks run, and how often while the app is unhealthy.</summary>
    public TimeSpan Settle { get; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var providers = configuration.GetConclaveProviders().ToList();
        // The clock the app gave its Conclave configuration (ConclaveConfigurationOptions.TimeProvider), so a test's fake
        // clock drives the settle delay too.
        var time = providers.FirstOrDefault()?.Options.TimeProvider ?? TimeProvider.System;
        void OnChanged(object? sender, ConclaveConfigurationChangedEventArgs e)
        {
            if (e.Origin == ConclaveConfigurationOrigin.Server)
            {
                applied.Release();
            }
        }

        foreach (var p in providers)
        {
            p.Changed += OnChanged;
        }

        var unhealthy = false;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (!unhealthy)
                {
                    await applied.WaitAsync(stoppingToken).ConfigureAwait(false);
                }

                await Task.Delay(Settle, time, stoppingToken).ConfigureAwait(false);
                while (applied.CurrentCount > 0)
                {
                    await applied.WaitAsync(stoppingToken).ConfigureAwait(false); // releases applied meanwhile are judged by this check too
                }

                var report = await health.CheckHealthAsync(r => !r.Tags.Contains("conclave"), stoppingToken).ConfigureAwait(false);
                var now = report.Status == HealthStatus.Unhealthy;
                if (now)
                {
                    var failing = string.Join("; ", report.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy)
                        .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? "unhealthy"}"));
                    var reason = $"health checks failed after applying the release: {failing}";
                    reason = reason.Length <= 500 ? reason : reason[..500];
                    foreach (var p in providers)
                    {
                        p.ReportHealth(unhealthy: true, reason);
                    }

                    logger.LogWarning("Conclave: reported the applied releases unhealthy ({Reason})", reason);
                }
                else if (unhealthy)
                {
                    foreach (var p in providers)
                    {
                        p.ReportHealth(unhealthy: false);
                    }

                    logger.LogInformation("Conclave: the app is healthy again; reported the applied releases applied");
                }

                unhealthy = now;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var p in providers)
            {
                p.Changed -= OnChanged;
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        applied.Dispose();
        base.Dispose();
    }
}

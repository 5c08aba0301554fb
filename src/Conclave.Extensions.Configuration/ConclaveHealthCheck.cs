using Conclave.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Conclave.Extensions.Configuration;

/// <summary>
/// Reports <see cref="HealthStatus.Degraded"/> while the app runs on cached (or no) Conclave configuration, while a
/// subscription is disconnected, or when the client cannot reach the cluster; otherwise healthy. Never unhealthy:
/// an app with its last known good configuration keeps serving, and a config outage must not restart a fleet.
/// </summary>
public sealed class ConclaveHealthCheck : IHealthCheck
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private readonly IConfiguration configuration;
    private readonly ConclaveClient? client;

    /// <summary>Creates the check.</summary>
    /// <param name="configuration">The app's configuration, whose Conclave providers are checked.</param>
    /// <param name="client">A registered client to probe with a status call, if any.</param>
    public ConclaveHealthCheck(IConfiguration configuration, ConclaveClient? client = null)
    {
        this.configuration = configuration;
        this.client = client;
    }

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var data = new Dictionary<string, object>();
        foreach (var provider in configuration.GetConclaveProviders())
        {
            var status = provider.Status;
            var name = $"{provider.Options.App}/{provider.Options.Environment}";
            var releases = string.Join(", ", status.Releases.Select(r => $"{r.Key}#{r.Value}"));
            data[name] = $"{status.Origin}, {(status.Connected ? "connected" : "disconnected")}, releases {releases}";
            if (status.AccessRefused)
            {
                problems.Add($"{name}: the service refuses this instance's access key, so it runs on its last known good values ({releases}): {status.LastError}");
                continue;
            }

            switch (status.Origin)
            {
                case ConclaveConfigurationOrigin.Cache:
                    problems.Add($"{name} runs on the last-known-good cache ({releases}); the service has not answered since start-up: {status.LastError}");
                    break;
                case ConclaveConfigurationOrigin.None:
                    problems.Add($"{name} has no configuration yet (optional source): {status.LastError}");
                    break;
                default:
                    if (!status.Connected)
                    {
                        problems.Add($"{name} is disconnected from the service; values as of {releases}");
                    }

                    break;
            }
        }

        if (client is not null)
        {
            using var probeTimer = new CancellationTokenSource(ProbeTimeout, client.Options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, probeTimer.Token);
            try
            {
                var status = await client.StatusAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
                data["endpoint"] = status.Endpoint;
            }
            catch (Exception e) when (e is ConclaveException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                problems.Add($"the Conclave client cannot reach {string.Join(", ", client.Endpoints)}: {e.Message}");
            }
        }

        return problems.Count == 0
            ? HealthCheckResult.Healthy("Conclave configuration is live", data)
            : HealthCheckResult.Degraded(string.Join("; ", problems), data: data);
    }
}

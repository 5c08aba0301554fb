using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Reports applied and rejected releases to the center's delivery tracking, off the apply path. A fleet applies a
/// release within milliseconds of each other; reporting at once would hit the center with one write per instance
/// while it is still delivering the release to the rest. So each report waits a random part of
/// <see cref="ConclaveConfigurationOptions.ReportSpread"/>, and only the newest outcome per namespace is sent (the
/// center keeps one record per instance and namespace anyway). Best effort: a failed report is logged (Debug) and
/// corrected by the next one, or by the record's lease running out.
/// </summary>
internal sealed class DeliveryReporter
{
    private readonly ConclaveClient client;
    private readonly ConfigTarget target;
    private readonly ConclaveConfigurationOptions options;
    private readonly Func<ILogger> logger;
    private readonly Lock gate = new();
    private readonly Dictionary<string, (ConfigRelease Release, ConfigDeliveryStatus Status, string? Reason)> latest = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim wake = new(0);

    public DeliveryReporter(ConclaveClient client, ConfigTarget target, ConclaveConfigurationOptions options, Func<ILogger> logger)
    {
        this.client = client;
        this.target = target;
        this.options = options;
        this.logger = logger;
    }

    /// <summary>Queues the outcome; it replaces an unsent outcome of the same namespace.</summary>
    public void Enqueue(ConfigRelease release, ConfigDeliveryStatus status, string? reason)
    {
        if (!options.ReportDelivery)
        {
            return;
        }

        lock (gate)
        {
            latest[release.Namespace] = (release, status, reason);
        }

        wake.Release();
    }

    /// <summary>Sends queued outcomes until <paramref name="cancellationToken"/> fires; unsent ones are dropped then.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                var spread = options.ReportSpread;
                if (spread > TimeSpan.Zero)
                {
                    await Task.Delay(spread * Random.Shared.NextDouble(), options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }

                (ConfigRelease Release, ConfigDeliveryStatus Status, string? Reason)[] batch;
                lock (gate)
                {
                    batch = [.. latest.Values];
                    latest.Clear();
                }

                foreach (var (release, status, reason) in batch)
                {
                    await SendAsync(release, status, reason, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(ConfigRelease release, ConfigDeliveryStatus status, string? reason, CancellationToken cancellationToken)
    {
        try
        {
            await client.ReportConfigAsync(target, release.Namespace, release.ReleaseId, status, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.ReportFailed(logger(), target.App, target.Environment, release.Namespace, release.ReleaseId, e);
        }
    }
}

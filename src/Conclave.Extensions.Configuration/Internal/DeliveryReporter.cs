using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Reports applied and rejected releases to the center's delivery tracking, off the apply path. A fleet applies a
/// release within milliseconds of each other; reporting at once would hit the center with one write per instance
/// while it is still delivering the release to the rest. So each report waits a random part of
/// <see cref="ConclaveConfigurationOptions.ReportSpread"/>, and only the newest outcome per namespace is sent (the
/// center keeps one record per instance and namespace anyway). Best effort: a failed report is logged (Debug) and
/// corrected by the next one, or by the record's lease running out. A report of a flags namespace carries the
/// instance's evaluation counts of its flags (<see cref="FlagEvaluationCounter"/>); while flags are evaluated, the
/// namespace's last outcome is reported again every <see cref="ConclaveConfigurationOptions.FlagUsageReportInterval"/>
/// with the counts since, so the center sees which flags are used.
/// </summary>
internal sealed class DeliveryReporter
{
    private readonly ConclaveClient client;
    private readonly ConfigTarget target;
    private readonly ConclaveConfigurationOptions options;
    private readonly Func<ILogger> logger;
    private readonly Lock gate = new();
    private readonly Dictionary<string, (ConfigRelease Release, ConfigDeliveryStatus Status, string? Reason)> latest = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ConfigRelease Release, ConfigDeliveryStatus Status, string? Reason)> lastSent = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim wake = new(0);
    private readonly FlagEvaluationCounter counter;
    private readonly Func<MergedFlags> flags;

    public DeliveryReporter(ConclaveClient client, ConfigTarget target, ConclaveConfigurationOptions options, Func<ILogger> logger, FlagEvaluationCounter counter, Func<MergedFlags> flags)
    {
        this.client = client;
        this.target = target;
        this.options = options;
        this.logger = logger;
        this.counter = counter;
        this.flags = flags;
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
    public Task RunAsync(CancellationToken cancellationToken) =>
        options.ReportDelivery && options.FlagUsageReportInterval > TimeSpan.Zero
            ? Task.WhenAll(SendLoopAsync(cancellationToken), UsageLoopAsync(cancellationToken))
            : SendLoopAsync(cancellationToken);

    /// <summary>While flags are evaluated: the flags namespaces' last outcomes again, with the counts since.</summary>
    private async Task UsageLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(options.FlagUsageReportInterval, options.TimeProvider, cancellationToken).ConfigureAwait(false);
                if (!counter.HasRecent)
                {
                    continue;
                }

                var owners = flags().Owners.Values.ToHashSet(StringComparer.Ordinal);
                var queued = false;
                lock (gate)
                {
                    foreach (var (ns, outcome) in lastSent)
                    {
                        if (owners.Contains(ns) && latest.TryAdd(ns, outcome))
                        {
                            queued = true;
                        }
                    }
                }

                if (queued)
                {
                    wake.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
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
        lock (gate)
        {
            lastSent[release.Namespace] = (release, status, reason);
        }

        var counts = string.Equals(release.Format, "flags", StringComparison.OrdinalIgnoreCase) ? counter.Harvest(release.Namespace, flags()) : null;
        try
        {
            await client.ReportConfigAsync(target, release.Namespace, release.ReleaseId, status, reason, counts ?? [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            if (counts is not null)
            {
                counter.Restore(counts);
            }

            Log.ReportFailed(logger(), target.App, target.Environment, release.Namespace, release.ReleaseId, e);
        }
    }
}

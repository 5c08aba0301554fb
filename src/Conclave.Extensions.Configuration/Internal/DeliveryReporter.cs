using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Reports applied and rejected releases to the center's delivery tracking. Best effort: a failed report is logged
/// (Debug) and corrected by the next one, or by the record's lease running out.
/// </summary>
internal sealed class DeliveryReporter(ConclaveClient client, ConfigTarget target, bool enabled)
{
    public async Task ReportAsync(ConfigRelease release, ConfigDeliveryStatus status, string? reason, ILogger logger, CancellationToken cancellationToken)
    {
        if (!enabled)
        {
            return;
        }

        try
        {
            await client.ReportConfigAsync(target, release.Namespace, release.ReleaseId, status, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.ReportFailed(logger, target.App, target.Environment, release.Namespace, release.ReleaseId, e);
        }
    }

    public async Task ReportAllAsync(IEnumerable<ConfigRelease> releases, ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var release in releases)
        {
            await ReportAsync(release, ConfigDeliveryStatus.Applied, null, logger, cancellationToken).ConfigureAwait(false);
        }
    }
}

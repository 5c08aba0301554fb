using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// Where the pre-parser reports the header blocks it stopped on: a Debug line (<see cref="Log"/>) and a counter on
/// the <c>Conclave.Server.Grpc.Authority</c> meter, which <c>/metrics</c> shows as
/// <c>conclave_grpc_header_blocks_not_inspected_total</c>, <c>conclave_grpc_header_blocks_refused_total</c> and
/// <c>conclave_grpc_header_block_timeouts_total</c>.
/// </summary>
internal sealed class HeaderBlockEvents
{
    public const string MeterName = "Conclave.Server.Grpc.Authority";

    private readonly ILogger logger;
    private readonly Counter<long>? notInspected;
    private readonly Counter<long>? refused;
    private readonly Counter<long>? timedOut;

    /// <param name="meter">Null for no counters (tests).</param>
    public HeaderBlockEvents(ILogger logger, Meter? meter)
    {
        this.logger = logger;
        notInspected = meter?.CreateCounter<long>("conclave.grpc.header_blocks_not_inspected", "{block}", "First header blocks handed to Kestrel unread: too large or malformed for the :authority check");
        refused = meter?.CreateCounter<long>("conclave.grpc.header_blocks_refused", "{block}", "Header blocks past a limit or malformed on a connection whose :authority is repaired");
        timedOut = meter?.CreateCounter<long>("conclave.grpc.header_block_timeouts", "{connection}", "Connections ended because a header block was not finished in time");
    }

    public void FirstBlockNotInspected(string connectionId, string reason)
    {
        notInspected?.Add(1);
        Log.FirstBlockNotInspected(logger, connectionId, reason);
    }

    public void RepairedBlockRefused(string connectionId, string reason)
    {
        refused?.Add(1);
        Log.RepairedBlockRefused(logger, connectionId, reason);
    }

    public void TimedOut(string connectionId, TimeSpan timeout)
    {
        timedOut?.Add(1);
        Log.HeaderBlockTimedOut(logger, connectionId, timeout);
    }
}

namespace Conclave.Client;

/// <summary>The server canceled a watch (for a reason other than compaction), e.g. it was rejected as invalid.</summary>
public sealed class WatchCanceledException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Cancel reason the server sent; may be empty.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    public WatchCanceledException(string reason, string? endpoint)
        : base(
            string.IsNullOrEmpty(reason) ? "The server canceled the watch." : $"The server canceled the watch: {reason}",
            Grpc.Core.StatusCode.Cancelled,
            reason,
            endpoint,
            null)
    {
        Reason = reason;
    }

    /// <summary>Cancel reason the server sent; may be empty.</summary>
    public string Reason { get; }
}

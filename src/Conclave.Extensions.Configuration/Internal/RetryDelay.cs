namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Exponential back-off with "equal jitter" (half fixed, half random): a fleet that lost the service together
/// spreads its retries instead of arriving in waves.
/// </summary>
internal static class RetryDelay
{
    public static TimeSpan For(int failures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var exponent = Math.Clamp(failures - 1, 0, 20);
        var ms = Math.Min(baseDelay.TotalMilliseconds * Math.Pow(2, exponent), maxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((ms / 2) + (Random.Shared.NextDouble() * ms / 2));
    }
}

namespace Conclave.Client.Internal;

/// <summary>Exponential back-off with jitter, so many clients reconnecting at once do not stampede a member.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(int failures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var exponent = Math.Min(Math.Max(failures - 1, 0), 16);
        var ms = Math.Min(baseDelay.TotalMilliseconds * (1L << exponent), maxDelay.TotalMilliseconds);
        var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
        return TimeSpan.FromMilliseconds(ms * jitter);
    }
}

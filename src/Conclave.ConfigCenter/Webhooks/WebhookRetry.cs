namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// How failed deliveries are tried again: exponential back-off from <see cref="BaseDelay"/> doubling up to
/// <see cref="MaxDelay"/>, at most <see cref="MaxAttempts"/> attempts, then the delivery is marked failed. The defaults
/// spread 10 attempts over about 50 minutes.
/// </summary>
public sealed record WebhookRetry
{
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(15);

    public int MaxAttempts { get; init; } = 10;

    /// <summary>The wait after the <paramref name="attempts"/>-th failed attempt.</summary>
    public TimeSpan DelayAfter(int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = BaseDelay.TotalMilliseconds * factor;
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxDelay.TotalMilliseconds));
    }
}

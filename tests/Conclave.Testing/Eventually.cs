using System.Diagnostics;

namespace Conclave.Testing;

/// <summary>
/// Waits for an observed state: polls a condition until it holds or a deadline passes. Never a sleep that
/// hopes something has happened by then.
/// </summary>
public static class Eventually
{
    /// <summary>Generous on purpose: the machine running the tests may be shared and slow.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Polls <paramref name="condition"/> until it returns true. An exception from the condition counts as
    /// "not yet" and is reported if the deadline passes. The token handed to the condition is cancelled at the
    /// deadline so a hanging probe cannot outlive it.
    /// </summary>
    public static async Task WaitAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, string description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        var interval = TimeSpan.FromMilliseconds(5);
        Exception? last = null;
        var attempts = 0;
        while (true)
        {
            attempts++;
            try
            {
                if (await condition(deadline.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (deadline.IsCancellationRequested || clock.Elapsed >= timeout)
            {
                throw new TimeoutException(
                    $"Timed out after {clock.Elapsed.TotalSeconds:F1} s ({attempts} checks) waiting for: {description}" +
                    (last is null ? "" : $"\nLast error: {last.GetType().Name}: {last.Message}"),
                    last);
            }

            try
            {
                await Task.Delay(interval, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Deadline reached during the pause: check one last time.
            }

            interval = TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, MaxPollInterval.Ticks));
        }
    }

    /// <summary>Polls a synchronous condition (for state another thread updates).</summary>
    public static Task WaitAsync(Func<bool> condition, TimeSpan timeout, string description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitAsync(_ => Task.FromResult(condition()), timeout, description, cancellationToken);
    }

    /// <summary>Polls <paramref name="probe"/> until its value satisfies <paramref name="accept"/>, and returns that value.</summary>
    public static async Task<T> WaitForAsync<T>(Func<CancellationToken, Task<T>> probe, Func<T, bool> accept, TimeSpan timeout, string description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(accept);
        T value = default!;
        await WaitAsync(
            async ct =>
            {
                var v = await probe(ct).ConfigureAwait(false);
                if (!accept(v))
                {
                    return false;
                }

                value = v;
                return true;
            },
            timeout,
            description,
            cancellationToken).ConfigureAwait(false);
        return value;
    }
}

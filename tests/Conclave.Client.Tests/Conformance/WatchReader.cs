namespace Conclave.Client.Tests.Conformance;

internal static class WatchReader
{
    /// <summary>Reads exactly <paramref name="count"/> events, failing with what was seen so far if they don't come in time.</summary>
    public static async Task<List<WatchEvent>> TakeAsync(IAsyncEnumerator<WatchEvent> events, int count, TimeSpan timeout)
    {
        var seen = new List<WatchEvent>(count);
        using var deadline = new CancellationTokenSource(timeout);
        while (seen.Count < count)
        {
            var next = events.MoveNextAsync().AsTask();
            var finished = await Task.WhenAny(next, Task.Delay(Timeout.Infinite, deadline.Token).ContinueWith(_ => { }, TaskScheduler.Default));
            if (finished != next)
            {
                throw new TimeoutException($"Expected {count} events within {timeout}, got {seen.Count}: {Describe(seen)}");
            }

            if (!await next)
            {
                throw new InvalidOperationException($"The watch ended after {seen.Count} of {count} events.");
            }

            seen.Add(events.Current);
        }

        return seen;
    }

    public static string Describe(IEnumerable<WatchEvent> events) =>
        string.Join(", ", events.Select(e => $"{e.Type} {e.Entry.KeyString}={e.Entry.ValueString}@{e.Revision}"));
}

using System.Runtime.CompilerServices;

namespace Conclave.Server.Http;

/// <summary>Helpers for server-sent event streams over the store's watch.</summary>
internal static class SseStreams
{
    /// <summary>
    /// Enumerates <paramref name="source"/> until it ends or <paramref name="cancellationToken"/> fires, and then
    /// simply stops: a browser that goes away or a member that stops ends the stream, it is not an error to log.
    /// </summary>
    public static async IAsyncEnumerable<T> UntilCancelledAsync<T>(IAsyncEnumerable<T> source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var items = source.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await items.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            yield return items.Current;
        }
    }
}

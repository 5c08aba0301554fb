using Microsoft.AspNetCore.Connections;

namespace Conclave.Cluster.Peers;

/// <summary>The accept loop every server on a peer-listener channel runs.</summary>
internal static class PeerConnections
{
    /// <summary>
    /// Accepts connections from <paramref name="connections"/> until <paramref name="stopping"/> ends or the channel
    /// closes, hands each to <paramref name="serve"/>, and then waits for those still being served.
    /// </summary>
    public static async Task ServeEachAsync(IConnectionListener connections, Func<ConnectionContext, Task> serve, CancellationToken stopping)
    {
        var serving = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            ConnectionContext? connection;
            try
            {
                connection = await connections.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (connection is null)
            {
                break;
            }

            serving.RemoveAll(static t => t.IsCompleted);
            serving.Add(serve(connection));
        }

        await Task.WhenAll(serving).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}

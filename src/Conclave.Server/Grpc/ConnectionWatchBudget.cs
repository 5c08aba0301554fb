using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// The watches one gRPC connection may hold, all its Watch streams together: a count
/// (<see cref="ServerOptions.MaxWatchesPerConnection"/>) and the bytes of their keys and range ends
/// (<see cref="ServerOptions.MaxWatchKeyBytesPerConnection"/>). Without it one connection could open
/// <c>--max-concurrent-streams</c> streams of <c>--max-watches-per-stream</c> watches each (10 million), or hold
/// 1.5 MiB keys in every one of them (500 such watches cost 490 MiB). A connection middleware gives every connection
/// its own; Kestrel shows a connection's features to each of its requests.
/// </summary>
internal sealed class ConnectionWatchBudget(int maxWatches, long maxKeyBytes)
{
    private readonly Lock gate = new();
    private int watches;
    private long keyBytes;

    /// <summary>Sets up a budget on every connection of <paramref name="listen"/>.</summary>
    public static void Use(ListenOptions listen, ServerOptions options) => listen.Use(next => context =>
    {
        context.Features.Set(new ConnectionWatchBudget(options.MaxWatchesPerConnection, options.MaxWatchKeyBytesPerConnection));
        return next(context);
    });

    /// <summary>Takes one watch of <paramref name="bytes"/> key bytes; null when taken, else why not (the limit and its flag).</summary>
    public string? TryTake(long bytes)
    {
        lock (gate)
        {
            if (watches >= maxWatches)
            {
                return $"{watches} watches are open on this connection; the limit is {maxWatches} (--max-watches-per-connection)";
            }

            if (keyBytes + bytes > maxKeyBytes)
            {
                return $"the keys of this connection's watches would take {keyBytes + bytes} bytes; the limit is {maxKeyBytes} (--max-watch-key-bytes-per-connection)";
            }

            watches++;
            keyBytes += bytes;
            return null;
        }
    }

    /// <summary>Gives back a watch taken with <see cref="TryTake"/>.</summary>
    public void Return(long bytes)
    {
        lock (gate)
        {
            watches--;
            keyBytes -= bytes;
        }
    }
}

using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// Connection middleware for the gRPC client listeners: a client that closes its side of the connection (FIN) while
/// streams are open gets GOAWAY and FIN, as from etcd, instead of a TCP reset.
/// <para>
/// Why: Kestrel hears of the client's FIN twice, through the connection's input (which ends) and through
/// <c>ConnectionContext.ConnectionClosed</c> (which the socket transport fires when its receive loop ends). The
/// input path is the graceful one: Http2Connection sends GOAWAY NO_ERROR, aborts the open streams, waits for their
/// handlers and completes its output, and the socket is shut down (FIN). The token path
/// (<c>Http2Connection.OnInputOrOutputCompleted</c>) aborts the connection with an exception whenever a stream is
/// open, and the socket transport closes an aborted connection with linger 0 (RST) unless the process-wide
/// <c>Microsoft.AspNetCore.Server.Kestrel.FinOnError</c> switch is set; it usually wins the race, so no GOAWAY is
/// sent either. This middleware hands Kestrel's HTTP layer a <c>ConnectionClosed</c> token that fires only
/// <see cref="Grace"/> after the transport's, so the input path closes the connection first.
/// </para>
/// <para>
/// The grace bounds the graceful close: a client that half-closes and then reads nothing (its receive window and
/// the socket's send buffer full) cannot hold the connection open; once the grace has passed Kestrel aborts it as
/// before. Any other abort (a protocol error, a reset from the client, a timeout) is unchanged.
/// </para>
/// </summary>
internal static class GracefulClientClose
{
    /// <summary>How long a connection the client has closed may take to close gracefully before it is reset.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    public static void Use(ListenOptions listen, TimeProvider timeProvider) => listen.Use(next => Wrap(next, timeProvider));

    /// <summary><paramref name="next"/> with the delayed <c>ConnectionClosed</c> token (see the type's remarks).</summary>
    public static ConnectionDelegate Wrap(ConnectionDelegate next, TimeProvider timeProvider) => async context =>
    {
        var transportClosed = context.ConnectionClosed;
        using var delayed = new DelayedClose(timeProvider);
        using var registration = transportClosed.UnsafeRegister(static state => ((DelayedClose)state!).Start(), delayed);
        context.ConnectionClosed = delayed.Token;
        try
        {
            await next(context);
        }
        finally
        {
            context.ConnectionClosed = transportClosed;
        }
    };

    /// <summary>The token Kestrel's HTTP layer sees: cancelled <see cref="Grace"/> after the transport's fired.</summary>
    private sealed class DelayedClose(TimeProvider timeProvider) : IDisposable
    {
        private readonly CancellationTokenSource source = new();
        private readonly Lock gate = new();
        private ITimer? timer;
        private bool disposed;

        public CancellationToken Token => source.Token;

        public void Start()
        {
            lock (gate)
            {
                if (disposed || timer is not null)
                {
                    return;
                }

                timer = timeProvider.CreateTimer(static state => ((DelayedClose)state!).Fire(), this, Grace, Timeout.InfiniteTimeSpan);
            }
        }

        private void Fire()
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The connection finished closing just as the grace ran out.
            }
        }

        public void Dispose()
        {
            lock (gate)
            {
                disposed = true;
                timer?.Dispose();
            }

            source.Dispose();
        }
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The caller's side of one connection on another member's request channel: requests are written as they come
/// (a write lock keeps frames whole), answers are matched to their requests by id, in any order. When the
/// connection drops, every request still waiting fails with an unknown outcome; the owner opens a new connection for
/// the next request. While requests wait and nothing arrives, a ping goes out; a connection that stays silent past
/// <see cref="PeerRequestOptions.KeepAliveTimeout"/> after it is closed (a peer that was stopped or cut off answers nothing,
/// and TCP alone would notice only after minutes).
/// </summary>
internal sealed class PeerRequestConnection : IAsyncDisposable
{
    private readonly PeerConnection connection;
    private readonly string peer;
    private readonly PeerRequestOptions options;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<byte[]>> pending = new();
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly ITimer keepAlive;
    private readonly Task reading;
    private long nextId;
    private long lastReceived;
    private long pingSent;
    private volatile Exception? failure;
    private Task? disposal;

    public PeerRequestConnection(PeerConnection connection, string peer, PeerRequestOptions options, ILogger logger)
    {
        this.connection = connection;
        this.peer = peer;
        this.options = options;
        this.logger = logger;
        lastReceived = options.TimeProvider.GetTimestamp();
        reading = Task.Run(ReadLoopAsync);
        keepAlive = options.TimeProvider.CreateTimer(static s => ((PeerRequestConnection)s!).CheckAlive(), this, options.KeepAliveInterval, options.KeepAliveInterval);
    }

    /// <summary>Whether the connection has dropped (requests fail; the owner opens another).</summary>
    public bool IsClosed => failure is not null;

    /// <summary>Requests waiting for their answers.</summary>
    public int Pending => pending.Count;

    /// <summary>
    /// Sends one request (<paramref name="head"/> then <paramref name="body"/> as its payload) and returns the answer's
    /// payload. Null when the connection had already dropped before anything was written (the caller may use another
    /// connection: nothing was sent). The payload memory is not used after this returns or throws.
    /// </summary>
    /// <exception cref="PeerRequestException">The connection dropped (or went silent) after the request was written.</exception>
    /// <exception cref="OperationCanceledException">The caller stopped waiting; a cancel frame tells the other member.</exception>
    public async ValueTask<byte[]?> SendAsync(PeerRequestKind kind, ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var length = head.Length + body.Length;
        if (length > options.MaxPayloadBytes)
        {
            throw new ArgumentException($"a request of {length} bytes; the request channel carries at most {options.MaxPayloadBytes}");
        }

        var id = (ulong)Interlocked.Increment(ref nextId);
        var answer = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[id] = answer;
        if (failure is not null)
        {
            pending.TryRemove(id, out _);
            return null;
        }

        var written = false;
        try
        {
            await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (failure is not null)
                {
                    pending.TryRemove(id, out _);
                    return null;
                }

                var output = connection.Output;
                new PeerFrame(PeerFrameType.Request, kind, length, id).WriteHeader(output.GetSpan(PeerFrame.HeaderSize));
                output.Advance(PeerFrame.HeaderSize);
                output.Write(head.Span);
                output.Write(body.Span);
                written = true;
                // Not cancellable: a frame cut in half would end the connection for every request on it.
                var flushed = await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    throw new IOException("the connection was closed");
                }
            }
            finally
            {
                writeLock.Release();
            }
        }
        catch (OperationCanceledException) when (!written)
        {
            pending.TryRemove(id, out _);
            throw;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            pending.TryRemove(id, out _);
            Fail(e.Message);
            throw new PeerRequestException($"Writing a request to the member at {peer} failed ({e.Message}); its outcome is unknown.", sent: true, e);
        }

        if (!cancellationToken.CanBeCanceled)
        {
            return await answer.Task.ConfigureAwait(false);
        }

        try
        {
            await using (cancellationToken.UnsafeRegister(static (s, t) => ((TaskCompletionSource<byte[]>)s!).TrySetCanceled(t), answer).ConfigureAwait(false))
            {
                return await answer.Task.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (pending.TryRemove(id, out _))
            {
                _ = CancelAsync(id);
            }

            throw;
        }
    }

    private async Task CancelAsync(ulong id)
    {
        if (failure is not null)
        {
            return;
        }

        try
        {
            await WriteControlAsync(PeerFrameType.Cancel, id).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The connection is going down: the other member stops the request anyway.
        }
    }

    private async Task WriteControlAsync(PeerFrameType type, ulong id)
    {
        await writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var output = connection.Output;
            new PeerFrame(type, 0, 0, id).WriteHeader(output.GetSpan(PeerFrame.HeaderSize));
            output.Advance(PeerFrame.HeaderSize);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var input = connection.Input;
        var reason = "closed by the other member";
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    Volatile.Write(ref lastReceived, options.TimeProvider.GetTimestamp());
                    Volatile.Write(ref pingSent, 0);
                }

                PeerFrameRead read;
                while ((read = PeerFrame.TryRead(ref buffer, options.MaxPayloadBytes, out var frame, out var payload, out var error)) == PeerFrameRead.Complete)
                {
                    switch (frame.Type)
                    {
                        case PeerFrameType.Answer when pending.TryRemove(frame.Id, out var answer):
                            answer.TrySetResult(payload.ToArray());
                            break;
                        case PeerFrameType.Error when pending.TryRemove(frame.Id, out var answer):
                            answer.TrySetException(PeerRequestError.Decode(payload.ToArray(), peer));
                            break;
                        case PeerFrameType.Answer or PeerFrameType.Error or PeerFrameType.Pong:
                            break; // an answer to a request its caller stopped waiting for
                        default:
                            error = $"a {frame.Type} frame from the member answering";
                            read = PeerFrameRead.Invalid;
                            break;
                    }

                    if (read == PeerFrameRead.Invalid)
                    {
                        break;
                    }
                }

                if (read == PeerFrameRead.Invalid)
                {
                    reason = "protocol error";
                    input.AdvanceTo(buffer.Start);
                    break;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            reason = e.Message;
        }

        Fail(reason);
    }

    private void CheckAlive()
    {
        if (failure is not null || pending.IsEmpty)
        {
            return;
        }

        var silent = options.TimeProvider.GetElapsedTime(Volatile.Read(ref lastReceived));
        if (silent < options.KeepAliveInterval)
        {
            return;
        }

        var ping = Volatile.Read(ref pingSent);
        if (ping == 0)
        {
            Volatile.Write(ref pingSent, options.TimeProvider.GetTimestamp());
            _ = PingAsync();
        }
        else if (options.TimeProvider.GetElapsedTime(ping) >= options.KeepAliveTimeout)
        {
            PeerLog.RequestPeerSilent(logger, peer, (long)silent.TotalMilliseconds, pending.Count);
            Fail($"nothing received for {silent.TotalMilliseconds:0} ms");
        }
    }

    private async Task PingAsync()
    {
        try
        {
            await WriteControlAsync(PeerFrameType.Ping, 0).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Fail(e.Message);
        }
    }

    /// <summary>Ends the connection: every waiting request fails with an unknown outcome.</summary>
    private void Fail(string reason)
    {
        var error = new PeerRequestException($"The connection to the member at {peer} dropped ({reason}); the outcome is unknown.", sent: true);
        if (Interlocked.CompareExchange(ref failure, error, null) is null)
        {
            PeerLog.RequestConnectionClosed(logger, peer, pending.Count, reason);
            connection.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException(reason));
        }

        foreach (var id in pending.Keys)
        {
            if (pending.TryRemove(id, out var answer))
            {
                answer.TrySetException(failure ?? error);
            }
        }
    }

    /// <summary>Closes the connection (its waiting requests fail); once, however often it is called.</summary>
    public ValueTask DisposeAsync()
    {
        lock (pending)
        {
            disposal ??= CloseAsync();
        }

        return new ValueTask(disposal);
    }

    private async Task CloseAsync()
    {
        Fail("closed by this member");
        await keepAlive.DisposeAsync().ConfigureAwait(false);
        await reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
        // The write lock is released, not disposed: a request racing with the close finds the connection failed.
        writeLock.Release();
    }
}

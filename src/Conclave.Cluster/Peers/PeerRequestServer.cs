using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>Serves one request of the request channel; the answer's payload, or an exception the caller receives as such.</summary>
internal delegate ValueTask<ReadOnlyMemory<byte>> PeerRequestHandler(PeerRequestKind kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

/// <summary>
/// The serving side of the peer listener's request channel (ADR 0013): reads frames from each connection, runs each
/// request concurrently (at most <see cref="PeerRequestOptions.MaxConcurrentRequests"/> per connection; beyond that it
/// stops reading and TCP pushes back), and writes each answer, success or typed error, with its request's id. A cancel
/// frame cancels its request; a connection that closes cancels all of its requests. Anything that is not a well-formed
/// frame closes the connection.
/// </summary>
internal sealed class PeerRequestServer(IConnectionListener connections, PeerRequestHandler handler, PeerRequestOptions options, ClusterMetrics metrics, ILogger logger)
{
    /// <summary>Accepts connections until <paramref name="stopping"/> ends, then waits for those being served.</summary>
    public Task RunAsync(CancellationToken stopping) =>
        PeerConnections.ServeEachAsync(connections, connection => Task.Run(() => ServeAsync(connection, stopping), CancellationToken.None), stopping);

    /// <summary>Serves one connection until it closes, breaks the protocol, or this member stops.</summary>
    public async Task ServeAsync(ConnectionContext connection, CancellationToken stopping)
    {
        var remote = connection.RemoteEndPoint?.ToString() ?? "?";
        var session = new Session(connection, options);
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(stopping, connection.ConnectionClosed);
        // A member that stops closes its connections: an answer blocked on a caller that no longer reads ends too.
        await using var abortOnStop = stopping.UnsafeRegister(static c => ((ConnectionContext)c!).Abort(), connection).ConfigureAwait(false);
        var input = connection.Transport.Input;
        string? reason = null;
        try
        {
            while (reason is null)
            {
                var result = await input.ReadAsync(closed.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (reason is null)
                {
                    var read = PeerFrame.TryRead(ref buffer, options.MaxPayloadBytes, out var frame, out var payload, out var error);
                    if (read == PeerFrameRead.NeedMore)
                    {
                        break;
                    }

                    reason = read == PeerFrameRead.Invalid ? error : await OnFrameAsync(session, frame, payload, closed.Token).ConfigureAwait(false);
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted && reason is null)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException or ConnectionResetException)
        {
            // Closed by the other member or this one stopping.
        }

        if (reason is not null)
        {
            metrics.PeerRequestsRefused.Add(1);
            PeerLog.RequestProtocolError(logger, remote, reason);
        }

        // Nobody reads the answers still to come (callers never half-close): closing first also ends a write blocked on
        // a caller that stopped reading, so the requests still running finish.
        connection.Abort();
        await session.EndAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Handles one frame; a reason when the connection must be closed.</summary>
    private async ValueTask<string?> OnFrameAsync(Session session, PeerFrame frame, ReadOnlySequence<byte> payload, CancellationToken closed)
    {
        switch (frame.Type)
        {
            case PeerFrameType.Request:
                // Waits while the connection has its most requests in progress: the reader stops, TCP pushes back.
                await session.Slots.WaitAsync(closed).ConfigureAwait(false);
                var cancel = CancellationTokenSource.CreateLinkedTokenSource(closed);
                if (!session.Running.TryAdd(frame.Id, cancel))
                {
                    session.Slots.Release();
                    cancel.Dispose();
                    return $"request id {frame.Id} is already in progress";
                }

                // The payload is copied: the reader's buffer is reused, and the handler may keep the bytes (a log entry).
                _ = HandleAsync(session, frame, payload.ToArray(), cancel);
                return null;
            case PeerFrameType.Cancel:
                if (session.Running.TryGetValue(frame.Id, out var running))
                {
                    try
                    {
                        await running.CancelAsync().ConfigureAwait(false);
                    }
                    catch (ObjectDisposedException)
                    {
                        // Finished meanwhile.
                    }
                }

                return null;
            case PeerFrameType.Ping:
                await session.WriteAsync(new PeerFrame(PeerFrameType.Pong, 0, 0, frame.Id), ReadOnlyMemory<byte>.Empty).ConfigureAwait(false);
                return null;
            default:
                return $"a {frame.Type} frame from the caller";
        }
    }

    private async Task HandleAsync(Session session, PeerFrame request, byte[] payload, CancellationTokenSource cancel)
    {
        var tag = new KeyValuePair<string, object?>("kind", PeerRequestClient.KindName(request.Kind));
        metrics.PeerRequestsServed.Add(1, tag);
        PeerFrame header;
        ReadOnlyMemory<byte> answer;
        try
        {
            answer = await handler(request.Kind, payload, cancel.Token).ConfigureAwait(false);
            if (answer.Length > options.MaxPayloadBytes)
            {
                throw new InvalidOperationException($"an answer of {answer.Length} bytes; the request channel carries at most {options.MaxPayloadBytes}");
            }

            header = new PeerFrame(PeerFrameType.Answer, 0, answer.Length, request.Id);
        }
        catch (Exception e)
        {
            if (e is not (ConsensusUnavailableException { NotApplied: true } or OperationCanceledException))
            {
                PeerLog.RequestFailed(logger, PeerRequestClient.KindName(request.Kind), e.GetType().Name, e.Message);
            }

            answer = PeerRequestError.Encode(e);
            header = new PeerFrame(PeerFrameType.Error, 0, answer.Length, request.Id);
        }
        finally
        {
            session.Running.TryRemove(request.Id, out _);
        }

        try
        {
            await session.WriteAsync(header, answer).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The caller is gone; so is the answer.
        }
        finally
        {
            cancel.Dispose();
            session.Slots.Release();
        }
    }

    /// <summary>One connection's requests in progress and its write side.</summary>
    private sealed class Session(ConnectionContext connection, PeerRequestOptions options)
    {
        private readonly SemaphoreSlim writeLock = new(1, 1);

        public SemaphoreSlim Slots { get; } = new(options.MaxConcurrentRequests, options.MaxConcurrentRequests);

        public ConcurrentDictionary<ulong, CancellationTokenSource> Running { get; } = new();

        public bool Ended { get; private set; }

        public async ValueTask WriteAsync(PeerFrame header, ReadOnlyMemory<byte> payload)
        {
            await writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                if (Ended)
                {
                    return;
                }

                var output = connection.Transport.Output;
                header.WriteHeader(output.GetSpan(PeerFrame.HeaderSize));
                output.Advance(PeerFrame.HeaderSize);
                output.Write(payload.Span);
                await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                writeLock.Release();
            }
        }

        /// <summary>Cancels the requests still running and waits until they have finished.</summary>
        public async Task EndAsync()
        {
            foreach (var running in Running.Values)
            {
                try
                {
                    await running.CancelAsync().ConfigureAwait(false);
                }
                catch (ObjectDisposedException)
                {
                    // Finished meanwhile.
                }
            }

            for (var i = 0; i < options.MaxConcurrentRequests; i++)
            {
                await Slots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            await writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            Ended = true;
            writeLock.Release();
        }
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Conclave.Cluster.Peers;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Both ends of a snapshot fetch on the peer listener's snapshot channel (ADR 0010): a lagging member asks for the
/// bytes of one snapshot image from an offset, and the member holding it streams them. One fetch per connection; TCP
/// paces the stream (the sender waits while the receiver's window is full), so memory on both sides stays at one chunk.
/// </summary>
/// <remarks>
/// After the channel's preamble, the request is 48 bytes (little endian):
/// <c>magic "CNCLFTCH" (8) | index i64 | term i64 | payload hash u64 | offset i64 | requesting member id u64</c>.
/// The answer is 16 bytes, <c>status u8 | 7 zero bytes | length i64</c> (status <see cref="Ok"/>, <see cref="NotHeld"/>,
/// <see cref="BadRequest"/> or <see cref="Busy"/>), then, when the status is <see cref="Ok"/>, exactly
/// <c>length</c> bytes: the snapshot file from the offset to its end. The receiver checks the whole image against the
/// descriptor's hash before it uses any of it, so the stream itself needs no framing.
/// </remarks>
internal static class SnapshotTransfer
{
    public const int RequestSize = 48;
    public const int ResponseHeaderSize = 16;

    /// <summary>Bytes moved per read and write.</summary>
    public const int ChunkBytes = 1024 * 1024;

    public const byte Ok = 0;
    public const byte NotHeld = 1;
    public const byte BadRequest = 2;

    /// <summary>The member serves as many fetches as it will at once: try again shortly (<see cref="SnapshotServer"/>).</summary>
    public const byte Busy = 3;

    /// <summary>How long either side waits for the other to move before it drops the connection (the fetch resumes).</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(30);

    private static ReadOnlySpan<byte> Magic => "CNCLFTCH"u8;

    public static void WriteRequest(Span<byte> destination, SnapshotFetch request)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], request.Index);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], request.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], request.Hash);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], request.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], request.FromMember);
    }

    /// <summary>Parses a request; null when the bytes are not one.</summary>
    public static SnapshotFetch? ParseRequest(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != RequestSize || !bytes.StartsWith(Magic))
        {
            return null;
        }

        var request = new SnapshotFetch(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[40..]));
        return request.Index < 1 || request.Offset < 0 ? null : request;
    }

    /// <summary>
    /// Reads the image <paramref name="snapshot"/> names from <paramref name="offset"/> on, from the member at
    /// <paramref name="peer"/> (connected through <paramref name="connector"/>, TLS included). The yielded memory is
    /// reused: consume it before moving on. Ends early when the connection drops (the caller resumes).
    /// </summary>
    /// <exception cref="SnapshotGoneException">The member no longer holds the image.</exception>
    /// <exception cref="InvalidDataException">The member answered something that is not a snapshot stream.</exception>
    public static async IAsyncEnumerable<(long Offset, ReadOnlyMemory<byte> Data)> FetchAsync(
        PeerConnector connector, EndPoint peer, SnapshotDescriptor snapshot, long offset, ulong localId, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stream = await connector.OpenAsync(peer, PeerChannel.Snapshot, cancellationToken).ConfigureAwait(false);
        await using var _ = stream.ConfigureAwait(false);
        var request = new byte[RequestSize];
        WriteRequest(request, new SnapshotFetch(snapshot.Index, snapshot.Term, snapshot.Hash, offset, localId));
        await stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);

        var header = new byte[ResponseHeaderSize];
        for (var read = 0; read < header.Length;)
        {
            var n = await ReceiveAsync(stream, header.AsMemory(read), time, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                yield break;
            }

            read += n;
        }

        var length = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
        switch (header[0])
        {
            case NotHeld:
                throw new SnapshotGoneException($"the member at {peer} no longer holds {snapshot}");
            case Busy when length == 0:
                yield break; // as a dropped connection: the caller retries with back-off from what it has
            case Ok when length == snapshot.FileLength - offset:
                break;
            default:
                throw new InvalidDataException($"the member at {peer} answered status {header[0]} with length {length} for {snapshot} from byte {offset}");
        }

        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(length, 1))];
        while (length > 0)
        {
            var n = await ReceiveAsync(stream, buffer.AsMemory(0, (int)Math.Min(buffer.Length, length)), time, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                yield break;
            }

            yield return (offset, buffer.AsMemory(0, n));
            offset += n;
            length -= n;
        }
    }

    private static async ValueTask<int> ReceiveAsync(Stream stream, Memory<byte> buffer, TimeProvider time, CancellationToken cancellationToken)
    {
        using var stallTimer = new CancellationTokenSource(StallTimeout, time);
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stallTimer.Token);
        try
        {
            return await stream.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the peer sent nothing for {StallTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>
    /// Serves one fetch on <paramref name="connection"/> (from the snapshot channel), then closes it. With
    /// <paramref name="streams"/>, the image is streamed only while one of its slots is free (held until the stream
    /// ends); otherwise a valid request is answered <see cref="Busy"/>. <paramref name="gone"/> (a test's fault) names
    /// images to answer as no longer held.
    /// </summary>
    public static async Task ServeAsync(
        ConnectionContext connection, SnapshottingStateMachine snapshots, ClusterMetrics metrics, ILogger logger, TimeSpan handshakeTimeout,
        CancellationToken cancellationToken, SnapshotStreamSlots? streams = null, Func<long>? bytesPerSecond = null, Func<long, bool>? gone = null)
    {
        await using (connection.ConfigureAwait(false))
        {
            var peer = connection.RemoteEndPoint?.ToString() ?? "?";
            try
            {
                var request = await ReadRequestAsync(connection.Transport.Input, handshakeTimeout, snapshots.Time, cancellationToken).ConfigureAwait(false);
                var output = connection.Transport.Output;
                if (request is not { } fetch)
                {
                    await AnswerAsync(output, BadRequest, 0, snapshots.Time, cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (streams is not null && !streams.TryEnter())
                {
                    Log.SnapshotServeEnded(logger, peer, "busy: this member streams as many snapshot images as it does at once; the fetching member tries again");
                    await AnswerAsync(output, Busy, 0, snapshots.Time, cancellationToken).ConfigureAwait(false);
                    return;
                }

                using var slot = new Slot(streams);
                using var lease = gone?.Invoke(fetch.Index) == true ? null : snapshots.TryServe(fetch.Index, fetch.Term, fetch.Hash);
                if (lease is null)
                {
                    await AnswerAsync(output, NotHeld, 0, snapshots.Time, cancellationToken).ConfigureAwait(false);
                    return;
                }

                var file = lease.File;
                if (fetch.Offset > file.FileLength)
                {
                    await AnswerAsync(output, BadRequest, 0, snapshots.Time, cancellationToken).ConfigureAwait(false);
                    return;
                }

                Log.SnapshotServing(logger, file.Index, file.FileLength, $"{peer} (member {fetch.FromMember.ToString("x", CultureInfo.InvariantCulture)})", fetch.Offset);
                await AnswerAsync(output, Ok, file.FileLength - fetch.Offset, snapshots.Time, cancellationToken).ConfigureAwait(false);
                var stream = file.OpenFrame();
                var started = snapshots.Time.GetTimestamp();
                var sent = 0L;
                await using (stream.ConfigureAwait(false))
                {
                    stream.Position = fetch.Offset;
                    for (var remaining = file.FileLength - fetch.Offset; remaining > 0;)
                    {
                        var memory = output.GetMemory((int)Math.Min(ChunkBytes, remaining));
                        var read = await stream.ReadAsync(memory[..(int)Math.Min(memory.Length, remaining)], cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            throw new EndOfStreamException($"Snapshot {file.Path} ended {remaining} bytes early.");
                        }

                        output.Advance(read);
                        remaining -= read;
                        metrics.SnapshotBytesSent.Add(read);
                        await FlushAsync(output, snapshots.Time, cancellationToken).ConfigureAwait(false);
                        sent += read;
                        if (bytesPerSecond?.Invoke() is > 0 and var rate)
                        {
                            var due = TimeSpan.FromSeconds((double)sent / rate) - snapshots.Time.GetElapsedTime(started);
                            if (due > TimeSpan.Zero)
                            {
                                await Task.Delay(due, snapshots.Time, cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }
                }

                await output.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or TimeoutException or ConnectionResetException or OperationCanceledException or InvalidOperationException)
            {
                // The fetching member resumes from what it has; nothing to do here but let go of the connection.
                Log.SnapshotServeEnded(logger, peer, e.Message);
            }
        }
    }

    private static async Task<SnapshotFetch?> ReadRequestAsync(PipeReader input, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadlineTimer = new CancellationTokenSource(timeout, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadlineTimer.Token);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no snapshot request within {timeout.TotalMilliseconds:0} ms");
            }

            var buffer = result.Buffer;
            if (buffer.Length >= RequestSize)
            {
                var bytes = new byte[RequestSize];
                buffer.Slice(0, RequestSize).CopyTo(bytes);
                input.AdvanceTo(buffer.GetPosition(RequestSize));
                return ParseRequest(bytes);
            }

            if (result.IsCompleted)
            {
                return null;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async Task AnswerAsync(PipeWriter output, byte status, long length, TimeProvider time, CancellationToken cancellationToken)
    {
        var header = output.GetSpan(ResponseHeaderSize)[..ResponseHeaderSize];
        header.Clear();
        header[0] = status;
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], length);
        output.Advance(ResponseHeaderSize);
        await FlushAsync(output, time, cancellationToken).ConfigureAwait(false);
        if (status != Ok)
        {
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async Task FlushAsync(PipeWriter output, TimeProvider time, CancellationToken cancellationToken)
    {
        using var stallTimer = new CancellationTokenSource(StallTimeout, time);
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stallTimer.Token);
        try
        {
            var flushed = await output.FlushAsync(stall.Token).ConfigureAwait(false);
            if (flushed.IsCompleted)
            {
                throw new IOException("the fetching member closed the connection");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the fetching member read nothing for {StallTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Gives a stream slot back when the stream ends, however it ends.</summary>
    private readonly struct Slot(SnapshotStreamSlots? streams) : IDisposable
    {
        public void Dispose() => streams?.Exit();
    }
}

/// <summary>Which snapshot image a peer fetches, from which byte, and who asks.</summary>
internal readonly record struct SnapshotFetch(long Index, long Term, ulong Hash, long Offset, ulong FromMember);

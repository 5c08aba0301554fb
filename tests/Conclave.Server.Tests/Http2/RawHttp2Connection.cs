using System.Buffers.Binary;
using System.Net.Sockets;
using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// A client connection on a raw socket that sends whatever frames a test builds (well-formed or not) and reads what
/// the server answers: how the attacks on the gRPC listener are reproduced without a client library's manners.
/// </summary>
internal sealed class RawHttp2Connection : IAsyncDisposable
{
    private readonly Socket socket;
    private readonly byte[] header = new byte[FrameHeader.Size];

    private RawHttp2Connection(Socket socket)
    {
        this.socket = socket;
    }

    /// <summary>Connects to <paramref name="endpoint"/> (<c>http://host:port</c>) and sends the preface and an empty SETTINGS frame.</summary>
    public static async Task<RawHttp2Connection> OpenAsync(string endpoint, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(endpoint);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(uri.Host, uri.Port, cancellationToken);
            var connection = new RawHttp2Connection(socket);
            byte[] opening = [.. FrameWriter.Preface, .. Frame(FrameType.Settings, 0, 0, [])];
            await connection.SendAsync(opening, cancellationToken);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A frame: 9-byte header then <paramref name="payload"/>.</summary>
    public static byte[] Frame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, payload.Length, type, flags, streamId);
        payload.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>
    /// A header block as HEADERS plus CONTINUATION frames of at most <paramref name="frameSize"/> bytes each;
    /// <paramref name="endHeaders"/> false leaves the block unfinished (its last frame lacks END_HEADERS).
    /// </summary>
    public static byte[] HeaderFrames(int streamId, ReadOnlySpan<byte> block, int frameSize = 16384, bool endHeaders = true, bool endStream = false)
    {
        var frames = new List<byte>();
        var first = true;
        do
        {
            var chunk = block[..Math.Min(frameSize, block.Length)];
            block = block[chunk.Length..];
            var flags = (byte)((first && endStream ? FrameFlags.EndStream : 0) | (block.IsEmpty && endHeaders ? FrameFlags.EndHeaders : 0));
            frames.AddRange(Frame(first ? FrameType.Headers : FrameType.Continuation, flags, streamId, chunk));
            first = false;
        }
        while (!block.IsEmpty);
        return [.. frames];
    }

    public static byte[] RstStream(int streamId, Http2ErrorCode code)
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)code);
        return Frame(FrameType.RstStream, 0, streamId, payload);
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
            bytes = bytes[sent..];
        }
    }

    /// <summary>The next frame from the server, or null once the connection is closed (FIN or reset).</summary>
    public async Task<(FrameHeader Header, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        if (!await ReadExactlyAsync(header, cancellationToken))
        {
            return null;
        }

        var frame = FrameHeader.Read(header);
        var payload = new byte[frame.Length];
        return await ReadExactlyAsync(payload, cancellationToken) ? (frame, payload) : null;
    }

    /// <summary>
    /// Reads and drops frames until the server closes the connection; returns the error code of the server's
    /// GOAWAY, if one arrived before the close.
    /// </summary>
    public async Task<Http2ErrorCode?> ReadUntilClosedAsync(CancellationToken cancellationToken)
    {
        Http2ErrorCode? goAway = null;
        while (await ReadFrameAsync(cancellationToken) is var (frame, payload))
        {
            if (frame.Type == FrameType.GoAway && payload.Length >= 8)
            {
                goAway = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4));
            }
        }

        return goAway;
    }

    /// <summary>
    /// Reads and drops frames until the connection ends; returns the error code of the server's GOAWAY, if one
    /// arrived, and whether the end was the server's FIN or a TCP reset.
    /// </summary>
    public async Task<(Http2ErrorCode? GoAway, bool Reset)> ReadUntilEndAsync(CancellationToken cancellationToken)
    {
        Http2ErrorCode? goAway = null;
        var buffer = new byte[16384];
        var pending = new List<byte>();
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return (goAway, true);
            }

            if (read == 0)
            {
                return (goAway, false);
            }

            pending.AddRange(buffer.AsSpan(0, read));
            while (pending.Count >= FrameHeader.Size)
            {
                var frame = FrameHeader.Read([.. pending.GetRange(0, FrameHeader.Size)]);
                if (pending.Count < FrameHeader.Size + frame.Length)
                {
                    break;
                }

                if (frame.Type == FrameType.GoAway && frame.Length >= 8)
                {
                    goAway = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian([.. pending.GetRange(FrameHeader.Size + 4, 4)]);
                }

                pending.RemoveRange(0, FrameHeader.Size + frame.Length);
            }
        }
    }

    /// <summary>Sends FIN: the client will send nothing more but still reads (what a proxy does when its client leaves).</summary>
    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    public ValueTask DisposeAsync()
    {
        socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> ReadExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return false;
                }

                buffer = buffer[read..];
            }

            return true;
        }
        catch (SocketException)
        {
            return false; // reset by the server: closed as well
        }
    }
}

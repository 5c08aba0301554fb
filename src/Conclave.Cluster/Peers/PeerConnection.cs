using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Conclave.Cluster.Peers;

/// <summary>
/// One member-to-member connection (after its preamble) as a <see cref="ConnectionContext"/>: the shape both DotNext's
/// Raft transport and Kestrel's HTTP/2 take their connections in. Pipes over the connection's stream (the socket's
/// <see cref="NetworkStream"/>, or an <see cref="SslStream"/> over it with peer TLS) with 64 KiB buffers: DotNext sizes its
/// transmission blocks by the writer's buffer, as its TCP transport's default block does.
/// </summary>
internal sealed class PeerConnection : ConnectionContext, IDuplexPipe
{
    /// <summary>Buffer size of both pipes; also DotNext's transmission block (see the summary).</summary>
    public const int BufferSize = 64 * 1024;

    private static long nextId;
    private readonly Socket socket;
    private readonly Stream stream;
    private readonly CancellationTokenSource closed = new();
    private int disposed;

    /// <param name="socket">The connection's socket (shut down first when the connection closes, so pending reads end).</param>
    /// <param name="stream">The connection after its preamble: a <see cref="NetworkStream"/> that owns <paramref name="socket"/>, or an <see cref="SslStream"/> over one.</param>
    /// <param name="channel">What it carries.</param>
    public PeerConnection(Socket socket, Stream stream, PeerChannel channel)
    {
        this.socket = socket;
        this.stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: BufferSize, minimumReadSize: 4096, leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: BufferSize, leaveOpen: true));
        Channel = channel;
        ConnectionId = $"peer-{channel.ToString().ToLowerInvariant()}-{Interlocked.Increment(ref nextId)}";
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        Features.Set(new PeerConnectionFeature(channel, RemoteEndPoint));
    }

    public PeerChannel Channel { get; }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport
    {
        get => this;
        set => throw new NotSupportedException("A peer connection's transport is its stream.");
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => closed.Token;
        set => throw new NotSupportedException();
    }

    /// <summary>Closes the socket at once: pending reads and writes end.</summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        Close();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Completing flushes what is still buffered; on a connection already aborted that write fails, and is moot.
        }

        Close();
        closed.Dispose();
    }

    private void Close()
    {
        try
        {
            closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: the socket is closed too.
        }

        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the other side or by us.
        }

        stream.Dispose();
    }
}

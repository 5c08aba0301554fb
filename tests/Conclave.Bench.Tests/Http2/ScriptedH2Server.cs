using System.Net;
using System.Net.Sockets;
using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Http2;

/// <summary>
/// A hand-driven HTTP/2 server: a test accepts the client's connection and sends exactly the frames it wants
/// (Huffman headers, CONTINUATION, padding, PING, resets, GOAWAY), so the client's handling of each is pinned down.
/// </summary>
internal sealed class ScriptedH2Server : IDisposable
{
    private readonly TcpListener _listener;

    private ScriptedH2Server(TcpListener listener) => _listener = listener;

    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public static ScriptedH2Server Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new ScriptedH2Server(listener);
    }

    /// <summary>Accepts a connection, checks the preface and answers with <paramref name="settings"/>.</summary>
    public async Task<ScriptedConnection> AcceptAsync(params (ushort Id, uint Value)[] settings)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var client = await _listener.AcceptTcpClientAsync(timeout.Token);
        var connection = new ScriptedConnection(client);
        await connection.ExpectPrefaceAsync();
        var payload = new byte[FrameHeader.Size + (settings.Length * 6)];
        FrameWriter.Settings(payload, settings);
        await connection.SendAsync(payload);
        return connection;
    }

    public void Dispose() => _listener.Stop();
}

using System.Net;
using System.Net.Sockets;
using Conclave.Cluster.Peers;
using Microsoft.AspNetCore.Connections;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The peer listener serves members only: a connection must open with the peer preamble, quickly, and strangers cost
/// it a bounded number of sockets for a bounded time.
/// </summary>
public sealed class PeerListenerTests
{
    [Fact]
    public void Only_exact_preambles_of_this_version_are_accepted()
    {
        Assert.True(PeerPreamble.TryRead(PeerPreamble.For(PeerChannel.Raft), out var raft, out _));
        Assert.Equal(PeerChannel.Raft, raft);
        // 'G' (gRPC) carried the learner feed until it moved onto the request channel: refused now.
        Assert.False(PeerPreamble.TryRead([.. "CNCLG"u8, PeerPreamble.Version, 0, 0], out _, out _));
        Assert.True(PeerPreamble.TryRead(PeerPreamble.For(PeerChannel.Snapshot), out var snapshot, out _));
        Assert.Equal(PeerChannel.Snapshot, snapshot);
        Assert.True(PeerPreamble.TryRead(PeerPreamble.For(PeerChannel.Requests), out var requests, out _));
        Assert.Equal(PeerChannel.Requests, requests);

        // Random and mutated 8-byte prefixes: never an exception, never accepted unless they equal a preamble.
        var random = new Random(18);
        var valid = new[] { PeerPreamble.For(PeerChannel.Raft), PeerPreamble.For(PeerChannel.Snapshot), PeerPreamble.For(PeerChannel.Requests) };
        var bytes = new byte[PeerPreamble.Length];
        for (var i = 0; i < 200_000; i++)
        {
            if (i % 2 == 0)
            {
                random.NextBytes(bytes);
            }
            else
            {
                valid[i / 2 % valid.Length].CopyTo(bytes, 0);
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
            }

            var accepted = PeerPreamble.TryRead(bytes, out _, out _);
            Assert.Equal(valid.Any(v => v.AsSpan().SequenceEqual(bytes)), accepted);
        }

        Assert.False(PeerPreamble.TryRead("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8[..8], out _, out _));
        Assert.False(PeerPreamble.TryRead(new byte[7], out _, out _));
    }

    [Fact]
    public async Task A_connection_with_the_preamble_reaches_the_server_of_its_channel()
    {
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var raft = await listener.RaftTransport.BindAsync(listener.LocalEndPoint);

        await using (var outbound = await PeerConnector.Plain.ConnectAsync(listener.LocalEndPoint))
        {
            await using var inbound = await AcceptAsync(raft);
            await outbound.Transport.Output.WriteAsync("hello"u8.ToArray());
            var read = await inbound.Transport.Input.ReadAtLeastAsync(5);
            Assert.Equal("hello"u8.ToArray(), System.Buffers.BuffersExtensions.ToArray(read.Buffer));
            Assert.Equal(PeerChannel.Raft, inbound.Features.Get<PeerConnectionFeature>()!.Channel);
        }

        using var socket = await ConnectAsync(listener, PeerPreamble.For(PeerChannel.Requests));
        await using var requestConnection = await AcceptAsync(listener.RequestConnections);
        Assert.Equal(PeerChannel.Requests, requestConnection.Features.Get<PeerConnectionFeature>()!.Channel);
    }

    [Theory]
    [InlineData("an HTTP/2 client")]
    [InlineData("another version")]
    [InlineData("the retired gRPC channel")]
    [InlineData("closed early")]
    public async Task A_connection_without_a_valid_preamble_is_closed_and_reaches_no_server(string kind)
    {
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var first = kind switch
        {
            "an HTTP/2 client" => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(),
            "another version" => [.. "CNCLQ"u8, 2, 0, 0],
            "the retired gRPC channel" => [.. "CNCLG"u8, PeerPreamble.Version, 0, 0],
            _ => "CNC"u8.ToArray(),
        };
        using var socket = await ConnectAsync(listener, first);
        if (kind == "closed early")
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        await AssertClosedAsync(socket, TimeSpan.FromSeconds(10));
        using var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await listener.RequestConnections.AcceptAsync(none.Token));
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_closed_after_the_handshake_timeout()
    {
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), handshakeTimeout: TimeSpan.FromMilliseconds(300));
        using var silent = await ConnectAsync(listener, []);
        using var slow = await ConnectAsync(listener, "CNC"u8.ToArray());

        await AssertClosedAsync(silent, TimeSpan.FromSeconds(10));
        await AssertClosedAsync(slow, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Handshakes_beyond_the_cap_are_closed_at_once_and_members_still_get_in_afterwards()
    {
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), handshakeTimeout: TimeSpan.FromSeconds(30));
        await using var raft = await listener.RaftTransport.BindAsync(listener.LocalEndPoint);
        var silent = new List<Socket>();
        try
        {
            for (var i = 0; i < PeerListener.MaxPendingHandshakes; i++)
            {
                silent.Add(await ConnectAsync(listener, []));
            }

            // The listener sees them one by one; once the cap is reached a further stranger is closed at once.
            using var extra = await WaitForRefusalAsync(listener);
            await AssertClosedAsync(extra, TimeSpan.FromSeconds(5));
        }
        finally
        {
            foreach (var s in silent)
            {
                s.Dispose();
            }
        }

        // Closing the strangers frees their slots: a member connects again.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            await using var member = await PeerConnector.Plain.ConnectAsync(listener.LocalEndPoint);
            using var accept = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await using var inbound = await raft.AcceptAsync(accept.Token);
                Assert.NotNull(inbound);
                return;
            }
            catch (OperationCanceledException) when (DateTime.UtcNow < deadline)
            {
                // The listener has not seen the strangers go yet.
            }
        }
    }

    private static async Task<Socket> WaitForRefusalAsync(PeerListener listener)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var socket = await ConnectAsync(listener, []);
            var buffer = new byte[1];
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token) == 0)
                {
                    return socket; // closed at once: the cap holds
                }
            }
            catch (OperationCanceledException)
            {
                // Still open: the listener had not counted every stranger yet.
            }
            catch (SocketException)
            {
                return socket;
            }

            if (DateTime.UtcNow > deadline)
            {
                socket.Dispose();
                throw new Xunit.Sdk.XunitException("a connection beyond the handshake cap was not closed");
            }

            socket.Dispose();
        }
    }

    private static async Task<ConnectionContext> AcceptAsync(IConnectionListener listener)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await listener.AcceptAsync(timeout.Token) ?? throw new Xunit.Sdk.XunitException("the listener stopped");
    }

    private static async Task<Socket> ConnectAsync(PeerListener listener, byte[] first)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(listener.LocalEndPoint);
        if (first.Length > 0)
        {
            await socket.SendAsync(first, SocketFlags.None);
        }

        return socket;
    }

    private static async Task AssertClosedAsync(Socket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[64];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
                // The listener never answers a stranger; anything read here would be a failure of its own.
                throw new Xunit.Sdk.XunitException("the peer listener sent bytes to a connection without a valid preamble");
            }
        }
        catch (SocketException)
        {
            // Reset: closed too.
        }
    }
}

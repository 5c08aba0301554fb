using System.Net;
using System.Net.Sockets;
using Conclave.Api.Errors;
using Conclave.Cluster.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The request channel (ADR 0013) by itself: a peer listener with a <see cref="PeerRequestServer"/> and a handler the
/// test controls, and the client side a member uses.
/// </summary>
public sealed class PeerRequestChannelTests : IAsyncLifetime
{
    private static readonly PeerRequestOptions Options = new()
    {
        MaxPayloadBytes = 64 * 1024,
        KeepAliveInterval = TimeSpan.FromMilliseconds(200),
        KeepAliveTimeout = TimeSpan.FromMilliseconds(200),
    };

    private readonly CancellationTokenSource stopping = new();
    private readonly ClusterMetrics metrics = new(() => 0, () => 0, () => 0);
    private PeerListener listener = null!;
    private PeerRequestClients clients = null!;
    private Task serving = null!;
    private PeerRequestHandler handler = (_, payload, _) => ValueTask.FromResult(payload);

    public Task InitializeAsync()
    {
        listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var server = new PeerRequestServer(listener.RequestConnections, (k, p, t) => handler(k, p, t), Options, metrics, NullLogger.Instance);
        serving = Task.Run(() => server.RunAsync(stopping.Token));
        clients = new PeerRequestClients(Options, metrics, NullLogger.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await clients.DisposeAsync();
        await stopping.CancelAsync();
        await listener.DisposeAsync();
        await serving;
        metrics.Dispose();
        stopping.Dispose();
    }

    private PeerRequestClient Client => clients.For(listener.LocalEndPoint);

    [Fact]
    public async Task Answers_come_back_to_their_requests_in_any_order_on_one_connection()
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler = async (_, payload, token) =>
        {
            if (payload.Span[0] == 1)
            {
                await first.Task.WaitAsync(token); // held until the second request has been answered
            }

            return payload;
        };

        var slow = Client.SendAsync(PeerRequestKind.Application, new byte[] { 1 }, new byte[] { 10 }, CancellationToken.None).AsTask();
        var fast = await Client.SendAsync(PeerRequestKind.Application, new byte[] { 2 }, new byte[] { 20 }, CancellationToken.None);
        Assert.Equal(new byte[] { 2, 20 }, fast);
        Assert.False(slow.IsCompleted);
        first.SetResult();
        Assert.Equal(new byte[] { 1, 10 }, await slow.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Many_concurrent_requests_share_the_connection()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 500).Select(i =>
            Client.SendAsync(PeerRequestKind.Application, BitConverter.GetBytes(i), ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask()));
        Assert.Equal(Enumerable.Range(0, 500), answers.Select(a => BitConverter.ToInt32(a)));
    }

    [Fact]
    public async Task Errors_arrive_as_the_exceptions_the_server_threw()
    {
        handler = (kind, payload, _) => payload.Span[0] switch
        {
            0 => throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "not the leader here", notApplied: true),
            1 => throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderChanged, "lost the lead; outcome unknown"),
            2 => throw new ArgumentException("a bad batch"),
            3 => throw new ConclaveErrorException(ErrorCode.LeaseNotFound, "no such lease"),
            4 => throw new MembershipException(MembershipError.NotFound, "no such member"),
            5 => throw new NotSupportedException("unknown kind"),
            _ => throw new InvalidOperationException("a defect"),
        };

        var notLeader = await Assert.ThrowsAsync<ConsensusUnavailableException>(() => Send(0));
        Assert.Equal(ConsensusUnavailableReason.NotLeader, notLeader.Reason);
        Assert.True(notLeader.NotApplied);
        Assert.Equal("not the leader here", notLeader.Message);

        var unknown = await Assert.ThrowsAsync<ConsensusUnavailableException>(() => Send(1));
        Assert.Equal(ConsensusUnavailableReason.LeaderChanged, unknown.Reason);
        Assert.False(unknown.NotApplied);

        Assert.Equal("a bad batch", (await Assert.ThrowsAsync<ArgumentException>(() => Send(2))).Message);
        Assert.Equal(ErrorCode.LeaseNotFound, (await Assert.ThrowsAsync<ConclaveErrorException>(() => Send(3))).Code);
        Assert.Equal(MembershipError.NotFound, (await Assert.ThrowsAsync<MembershipException>(() => Send(4))).Error);
        Assert.False((await Assert.ThrowsAsync<PeerRequestException>(() => Send(5))).Sent);
        Assert.True((await Assert.ThrowsAsync<PeerRequestException>(() => Send(6))).Sent);

        // The connection survived every error.
        handler = (_, payload, _) => ValueTask.FromResult(payload);
        Assert.Equal(new byte[] { 9 }, await Send(9));
    }

    [Fact]
    public async Task A_caller_that_stops_waiting_cancels_the_request_on_the_server()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler = async (_, payload, token) =>
        {
            await using (token.Register(() => cancelled.TrySetResult()))
            {
                started.SetResult();
                await Task.Delay(Timeout.Infinite, token);
            }

            return payload;
        };

        using var wait = new CancellationTokenSource();
        var call = Client.SendAsync(PeerRequestKind.Application, new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, wait.Token).AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await wait.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_dropped_connection_fails_its_requests_as_outcome_unknown_and_the_next_request_reconnects()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler = async (_, payload, token) =>
        {
            if (payload.Span[0] == 1)
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            }

            return payload;
        };

        var call = Send(1);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Client.DropConnection();
        var lost = await Assert.ThrowsAsync<PeerRequestException>(() => call).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(lost.Sent);

        Assert.Equal(new byte[] { 2 }, await Send(2));
    }

    [Fact]
    public async Task A_member_that_answers_nothing_is_given_up_after_the_keep_alive_timeout()
    {
        // A listener that takes the connection and never reads or answers (a stopped process).
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(1);
        var client = clients.For(silent.LocalEndPoint!);
        var call = client.SendAsync(PeerRequestKind.Application, new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask();
        var lost = await Assert.ThrowsAsync<PeerRequestException>(() => call).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(lost.Sent);
    }

    [Fact]
    public async Task A_member_that_is_not_listening_fails_the_request_as_never_sent()
    {
        var port = TestMember.FreePort();
        var client = clients.For(new IPEndPoint(IPAddress.Loopback, port));
        var e = await Assert.ThrowsAsync<PeerRequestException>(() => client.SendAsync(PeerRequestKind.Application, new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask());
        Assert.False(e.Sent);
    }

    [Fact]
    public async Task A_request_over_the_limit_is_refused_before_it_is_sent()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            Client.SendAsync(PeerRequestKind.Application, new byte[1], new byte[Options.MaxPayloadBytes], CancellationToken.None).AsTask());
        Assert.Contains("at most", e.Message);
    }

    [Fact]
    public async Task Garbage_and_oversized_frames_close_the_connection_and_the_server_keeps_serving_others()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var round = 0; round < 30; round++)
        {
            await using var socket = await PeerConnector.Plain.OpenAsync(listener.LocalEndPoint, PeerChannel.Requests, CancellationToken.None);
            byte[] bytes;
            if (round % 3 == 0)
            {
                // A header that announces more than the limit: closed without waiting for (or buffering) the payload.
                bytes = new byte[PeerFrame.HeaderSize];
                new PeerFrame(PeerFrameType.Request, PeerRequestKind.Application, 0, 1).WriteHeader(bytes);
                BitConverter.TryWriteBytes(bytes.AsSpan(4), (uint)Options.MaxPayloadBytes + 1 + (uint)random.Next(int.MaxValue));
            }
            else
            {
                bytes = new byte[random.Next(PeerFrame.HeaderSize, 512)];
                random.NextBytes(bytes);
                bytes[0] = (byte)(random.Next(2) == 0 ? PeerFrame.Version : bytes[0]);
                bytes[1] = (byte)random.Next(7, 256); // never a frame type: a protocol error at the first header
            }

            await socket.WriteAsync(bytes);
            var buffer = new byte[64];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int received;
            try
            {
                received = await socket.ReadAsync(buffer, deadline.Token);
            }
            catch (IOException)
            {
                received = 0; // reset: closed as well
            }

            Assert.True(received == 0, $"seed {seed}, round {round}: the server answered {received} bytes to garbage");
        }

        Assert.Equal(new byte[] { 5 }, await Send(5));
    }

    private Task<byte[]> Send(byte b) =>
        Client.SendAsync(PeerRequestKind.Application, new[] { b }, ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask();
}

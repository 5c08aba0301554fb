using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// <c>--max-concurrent-connections</c>: past the cap, a connection is closed as soon as it is accepted, before the
/// member reads a byte of it; once a connection closes, the next one is served again.
/// </summary>
public sealed class ConnectionLimitTests(ITestOutputHelper output)
{
    private const int Cap = 5;

    [Fact]
    public async Task Connections_past_the_cap_are_closed_at_once_and_served_again_below_it()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxConcurrentConnections = Cap });
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var open = new List<RawHttp2Connection>();
        try
        {
            await FillAsync(node, open, timeout.Token);

            await using (var refused = await RawHttp2Connection.OpenAsync(node.Endpoint, timeout.Token))
            {
                Assert.Null(await refused.ReadFrameAsync(timeout.Token));
            }

            await open[0].DisposeAsync();
            open.RemoveAt(0);
            await Eventually.WaitAsync(
                async ct =>
                {
                    await using var again = await RawHttp2Connection.OpenAsync(node.Endpoint, ct);
                    return (await again.ReadFrameAsync(ct))?.Header.Type == FrameType.Settings;
                },
                Eventually.DefaultTimeout,
                "a connection is served once another closed");
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Clients_at_the_cap_do_not_keep_members_from_the_peer_listener()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxConcurrentConnections = Cap });
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var open = new List<RawHttp2Connection>();
        try
        {
            await FillAsync(node, open, timeout.Token);

            // The client listeners are full; a member still reaches this one's member-to-member services: the connections
            // PeerListener hands to Kestrel must not count against the clients' cap.
            await using var peer = new Peers.PeerRequests();
            var view = await peer.ConfigurationAsync(node.PeerUrl, timeout.Token);
            Assert.Equal(node.Server.Node.Consensus.Status.MemberId, view.MemberId);
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Opens <see cref="Cap"/> served connections (each answered with the server's SETTINGS).</summary>
    private static async Task FillAsync(TestNode node, List<RawHttp2Connection> open, CancellationToken cancellationToken)
    {
        for (var i = 0; i < Cap; i++)
        {
            var connection = await RawHttp2Connection.OpenAsync(node.Endpoint, cancellationToken);
            open.Add(connection);
            Assert.Equal(FrameType.Settings, (await connection.ReadFrameAsync(cancellationToken))?.Header.Type);
        }
    }
}

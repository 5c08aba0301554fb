using System.Net.Http;
using Conclave.Cluster.Peers;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Peers;

/// <summary>gRPC channels to a member's peer listener, opened as members open them (with the peer preamble).</summary>
internal static class PeerChannels
{
    public static GrpcChannel Open(string peerUrl) => GrpcChannel.ForAddress(peerUrl, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { ConnectCallback = PeerConnector.ConnectGrpcAsync },
    });
}

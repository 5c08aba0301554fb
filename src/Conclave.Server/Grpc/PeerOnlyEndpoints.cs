using Conclave.Cluster.Peers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Grpc;

/// <summary>
/// Member-to-member services (conclave.cluster.v1.Forwarding) answer only on connections that came through the peer
/// listener (they carry <see cref="PeerConnectionFeature"/>); on the client URL they do not exist, as if never
/// mapped: UNIMPLEMENTED, exactly what an unknown service gets. Trust is a property of the listener.
/// </summary>
internal static class PeerOnlyEndpoints
{
    /// <summary>Endpoint metadata that marks a peer-only service.</summary>
    public static readonly object Marker = new PeerOnlyMarker();

    /// <summary>Adds the check after routing (so both the exact-path lookup and the route matcher are covered).</summary>
    public static void Use(WebApplication app) => app.Use(next => context =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<PeerOnlyMarker>() is not null
            && context.Features.Get<PeerConnectionFeature>() is null)
        {
            // A trailers-only gRPC answer, as gRPC gives for a service it does not know.
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "12";
            context.Response.Headers["grpc-message"] = "unknown service: member-to-member services are served on the peer listener only";
            return Task.CompletedTask;
        }

        return next(context);
    });

    private sealed class PeerOnlyMarker;
}

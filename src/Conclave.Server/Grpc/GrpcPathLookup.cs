using System.Collections.Frozen;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Grpc;

/// <summary>
/// Finds a gRPC call's endpoint by its exact path (<c>/etcdserverpb.KV/Put</c>) before routing runs, which then
/// skips its matcher. Every gRPC service also maps catch-all routes (<c>/etcdserverpb.KV/{unimplementedMethod}</c>,
/// <c>/{unimplementedService}/{unimplementedMethod}</c>) that answer UNIMPLEMENTED; because they match every gRPC
/// path, the matcher captured their route values for every call (7% of a put's allocations, and the matcher's CPU).
/// A path that is not a mapped method falls through to routing as before, so unknown methods still get UNIMPLEMENTED.
/// </summary>
internal sealed class GrpcPathLookup
{
    private FrozenDictionary<string, Endpoint> endpoints = FrozenDictionary<string, Endpoint>.Empty;

    /// <summary>Adds the lookup and then routing at the start of the pipeline (where routing would be anyway).</summary>
    public static GrpcPathLookup UseBeforeRouting(WebApplication app)
    {
        var lookup = new GrpcPathLookup();
        app.Use(next => context =>
        {
            if (context.Request.Path.Value is { } path
                && HttpMethods.IsPost(context.Request.Method)
                && lookup.endpoints.TryGetValue(path, out var endpoint))
            {
                context.SetEndpoint(endpoint);
            }

            return next(context);
        });
        app.UseRouting();
        return lookup;
    }

    /// <summary>Takes the gRPC methods' endpoints once they are all mapped.</summary>
    public void Build(IEndpointRouteBuilder routes) =>
        endpoints = routes.DataSources
            .SelectMany(static source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Where(static e => e.Metadata.GetMetadata<GrpcMethodMetadata>() is not null
                               && e.RoutePattern.Parameters.Count == 0
                               && e.RoutePattern.RawText is not null)
            .GroupBy(static e => "/" + e.RoutePattern.RawText!.TrimStart('/'), StringComparer.Ordinal)
            .ToFrozenDictionary(static g => g.Key, static g => (Endpoint)g.First(), StringComparer.Ordinal);

    /// <summary>How many methods are looked up directly (for tests).</summary>
    public int Count => endpoints.Count;
}

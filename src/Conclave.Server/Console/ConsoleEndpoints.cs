using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Console;

/// <summary>
/// Serves the web console at the HTTP listener's root: <c>GET /</c> is the page (revalidated on every load),
/// <c>GET /assets/{version}/...</c> its scripts and styles (immutable: the version changes with their content).
/// </summary>
internal static class ConsoleEndpoints
{
    // The console fetches only from this origin; the policy makes a stray CDN link or inline script fail loudly.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var assets = ConsoleAssets.Load(typeof(ConsoleEndpoints).Assembly);
        routes.MapGet("/", (HttpContext http) => Send(http, assets.Index, "no-cache"));
        routes.MapGet("/index.html", (HttpContext http) => Send(http, assets.Index, "no-cache"));
        routes.MapGet("/assets/{version}/{**path}", (string version, string path, HttpContext http) =>
            version == assets.Version && assets.Find(path) is { } asset
                ? Send(http, asset, "public, max-age=31536000, immutable")
                : Results.NotFound());
    }

    private static IResult Send(HttpContext http, ConsoleAsset asset, string cacheControl)
    {
        var headers = http.Response.Headers;
        headers.CacheControl = cacheControl;
        headers.ETag = asset.ETag;
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Contains(asset.ETag, StringComparison.Ordinal)))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }
}

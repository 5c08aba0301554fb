using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Http;

/// <summary>
/// The listeners of <c>--listen-metrics-urls</c> (etcd's flag): <c>GET /metrics</c> and <c>GET /health</c> only, so
/// that monitoring keeps its own port, its own connection budget and (once authentication exists) needs no
/// credentials, while the API, the console and the gateway stay on the HTTP listener. A connection middleware marks
/// the metrics listeners' connections; every other request on them is 404.
/// </summary>
internal sealed class MetricsListener
{
    private static readonly MetricsListener Marker = new();

    /// <summary>The paths a metrics listener serves.</summary>
    public static readonly IReadOnlyList<string> Paths = ["/metrics", "/health"];

    private MetricsListener()
    {
    }

    /// <summary>Marks every connection of <paramref name="listen"/> as a metrics listener's.</summary>
    public static void Mark(ListenOptions listen) => listen.Use(next => context =>
    {
        context.Features.Set(Marker);
        return next(context);
    });

    /// <summary>Answers 404, on a metrics listener's connections, to anything but <see cref="Paths"/>.</summary>
    public static void Use(WebApplication app) => app.Use(next => context =>
    {
        if (context.Features.Get<MetricsListener>() is null || (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)) && IsServed(context.Request.Path))
        {
            return next(context);
        }

        return Problems.Of(StatusCodes.Status404NotFound, "not found", "NotFound", "a metrics listener (--listen-metrics-urls) serves only /metrics and /health", context).ExecuteAsync(context);
    });

    private static bool IsServed(PathString path)
    {
        foreach (var served in Paths)
        {
            if (path.Equals(served, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

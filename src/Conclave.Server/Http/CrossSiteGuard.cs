using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Conclave.Server.Http;

/// <summary>
/// Refuses, on the HTTP listener, what a foreign page in a browser can make that browser send: a request under a host
/// name that is not this member's (DNS rebinding: 421), and a state-changing request from another origin (403) or
/// with a body that is not JSON (415). Until authentication arrives, these are what keep a web page the operator
/// happens to visit from reading the configuration or writing keys through the console's own API.
/// </summary>
/// <remarks>
/// <para>
/// Only HTTP/1.x requests are checked. Browsers reach a cleartext listener only over HTTP/1.x (cleartext HTTP/2 needs
/// prior knowledge, which browsers never use), the HTTP listener speaks nothing else, and the gRPC listeners speak
/// only cleartext HTTP/2, whose clients name the member as they please (etcd does not check their authority either).
/// With TLS, where browsers negotiate HTTP/2, this has to follow the listener instead.
/// </para>
/// <para>
/// A write (any method but GET, HEAD, OPTIONS and TRACE) is refused when <c>Sec-Fetch-Site</c> says
/// <c>cross-site</c>, when its <c>Origin</c> is neither the request's own (scheme, host and port) nor a name the
/// operator listed in <c>--host-whitelist</c>, or when it has a body whose content type is not JSON
/// (<c>application/json</c> or <c>application/*+json</c>); a declared non-JSON type is refused even without a body.
/// JSON cannot be sent across sites without a CORS preflight, which this server never grants, and every API here
/// takes JSON. A bodiless write needs no content type (the CLI and the console send DELETE without one): a bodiless
/// cross-site POST carries an <c>Origin</c>, which the origin check refuses. Requests without <c>Origin</c> and
/// <c>Sec-Fetch-Site</c> are not from a browser (curl, the CLI) and pass.
/// </para>
/// </remarks>
internal static partial class CrossSiteGuard
{
    /// <summary>Adds the guard at the start of the pipeline and logs which host names the HTTP listener answers.</summary>
    public static void Use(WebApplication app, HostAllowList hosts)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CrossSiteGuard).FullName!);
        LogHostsAllowed(logger, hosts.Describe());
        app.Use(next => context => HttpProtocol.IsHttp2(context.Request.Protocol) ? next(context) : CheckAsync(context, next, hosts, logger));
    }

    private static Task CheckAsync(HttpContext context, RequestDelegate next, HostAllowList hosts, ILogger logger)
    {
        var request = context.Request;
        if (request.Host.HasValue && !hosts.AllowsHost(request.Host.Host))
        {
            LogRefused(logger, request.Method, request.Path.Value ?? "", "host", request.Host.Value);
            return RefuseAsync(
                context,
                StatusCodes.Status421MisdirectedRequest,
                "host not allowed",
                "HostNotAllowed",
                $"this member does not answer for the host name '{request.Host.Host}' (a guard against DNS rebinding); " +
                "use its IP address or a name in its URLs, or add the name with --host-whitelist");
        }

        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method))
        {
            return next(context);
        }

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        var origin = request.Headers.Origin.ToString();
        if (string.Equals(site, "cross-site", StringComparison.OrdinalIgnoreCase) || (origin.Length > 0 && !IsTrustedOrigin(origin, request, hosts)))
        {
            LogRefused(logger, request.Method, request.Path.Value ?? "", "origin", origin.Length > 0 ? origin : "Sec-Fetch-Site: " + site);
            return RefuseAsync(
                context,
                StatusCodes.Status403Forbidden,
                "cross-origin request",
                "CrossOriginRequest",
                $"a {request.Method} from {(origin.Length > 0 ? $"the origin '{origin}'" : "another site")} is refused: " +
                "this API accepts writes only from its own pages, or from an origin whose host is listed in --host-whitelist");
        }

        var hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0;
        if ((request.ContentType is { Length: > 0 } || hasBody) && !IsJson(request.ContentType))
        {
            LogRefused(logger, request.Method, request.Path.Value ?? "", "content type", request.ContentType ?? "(none)");
            return RefuseAsync(
                context,
                StatusCodes.Status415UnsupportedMediaType,
                "unsupported media type",
                "UnsupportedMediaType",
                $"a {request.Method} with a body must send Content-Type: application/json (got '{request.ContentType ?? "none"}'); " +
                "with curl: -H 'Content-Type: application/json'");
        }

        return next(context);
    }

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (media.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The request's own origin (as the browser writes it: default ports left out), or a listed host's.</summary>
    private static bool IsTrustedOrigin(string origin, HttpRequest request, HostAllowList hosts)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || uri.Query.Length > 0)
        {
            return false; // "null" (sandboxed frames, file:// pages, redirects) and anything malformed
        }

        if (hosts.TrustsOrigin(uri.IdnHost))
        {
            return true;
        }

        return Uri.TryCreate($"{request.Scheme}://{request.Host.Value}", UriKind.Absolute, out var own)
               && string.Equals(uri.Scheme, own.Scheme, StringComparison.OrdinalIgnoreCase)
               && string.Equals(uri.IdnHost, own.IdnHost, StringComparison.OrdinalIgnoreCase)
               && uri.Port == own.Port;
    }

    private static Task RefuseAsync(HttpContext context, int status, string title, string code, string detail) =>
        Problems.Of(status, title, code, detail, context).ExecuteAsync(context);

    [LoggerMessage(EventId = 3310, Level = LogLevel.Information, Message = "HTTP listener answers {Hosts}")]
    private static partial void LogHostsAllowed(ILogger logger, string hosts);

    // Debug: a refusal is the answer the client needed, and one line per request cannot amplify a flood into the log.
    [LoggerMessage(EventId = 3311, Level = LogLevel.Debug, Message = "HTTP {Method} {Path} refused: {Check} {Value}")]
    private static partial void LogRefused(ILogger logger, string method, string path, string check, string value);
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Conclave.Server.Http;

/// <summary>
/// <c>GET /api/v1/openapi.json</c>: the OpenAPI 3.1 document of <c>/api/v1</c>, generated from the mapped endpoints
/// (their parameters, bodies, typed results, <c>Produces</c> and <see cref="ProblemResponses"/> metadata) by
/// Microsoft.AspNetCore.OpenApi, with schemas from <see cref="HttpJsonContext"/>. It describes route shapes only, which
/// are public in the source, so any caller may read it, also while auth is enabled (as <c>/version</c>; etcd and
/// Kubernetes serve their discovery documents the same way). Nothing of this deployment goes in: no servers (the
/// member's addresses), no build version, nothing read from the store. It is generated once, on first use, and served
/// with a strong ETag and <c>Cache-Control: no-cache</c> (revalidate: a rolling upgrade changes it).
/// </summary>
internal sealed class ApiDocument(IServiceProvider services)
{
    public const string Path = "/api/v1/openapi.json";
    private const string DocumentName = "v1";
    private const string Bearer = "bearer";
    private const string Session = "session";
    private const string AppCredential = "appCredential";

    private readonly Lazy<Task<(byte[] Body, string ETag)>> document = new(() => RenderAsync(services));

    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<ApiDocument>();
        services.AddOpenApi(DocumentName, o =>
        {
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            o.ShouldInclude = static d => d.RelativePath is { } p && (p == "api/v1" || p.StartsWith("api/v1/", StringComparison.Ordinal));
            o.AddDocumentTransformer((d, _, _) =>
            {
                Describe(d);
                return Task.CompletedTask;
            });
        });
    }

    public static void Map(IEndpointRouteBuilder routes) =>
        routes.MapGet(Path, async (HttpContext http, ApiDocument api) =>
            {
                var (body, etag) = await api.document.Value;
                http.Response.Headers.ETag = etag;
                http.Response.Headers.CacheControl = "no-cache";
                http.Response.Headers.XContentTypeOptions = "nosniff";
                if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() is var tag && (tag == etag || tag == "*"))))
                {
                    return Results.StatusCode(StatusCodes.Status304NotModified);
                }

                return Results.Bytes(body, "application/json; charset=utf-8");
            })
            .WithSummary("This document: the OpenAPI 3.1 description of /api/v1, generated from the server's endpoints.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblems(ProblemResponses.BeforeHandler);

    private static async Task<(byte[] Body, string ETag)> RenderAsync(IServiceProvider services)
    {
        var provider = services.GetRequiredKeyedService<IOpenApiDocumentProvider>(DocumentName);
        var openApi = await provider.GetOpenApiDocumentAsync();
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        openApi.SerializeAsV31(new OpenApiJsonWriter(text));
        var body = Encoding.UTF8.GetBytes(text.ToString());
        return (body, $"\"{Convert.ToHexStringLower(SHA256.HashData(body))[..32]}\"");
    }

    /// <summary>What the endpoints do not say: the API, how it signs in, and nothing of this deployment.</summary>
    private static void Describe(OpenApiDocument d)
    {
        d.Info = new OpenApiInfo
        {
            Title = "Conclave /api/v1",
            Version = "v1",
            Description = "Conclave's HTTP API: the configuration center (apps, environments, namespaces, releases, access, "
                + "webhooks), the console's views, the raw keyspace and the cluster. Refusals are RFC 7807 problem details "
                + "(application/problem+json) with a machine-readable `code`. Requests go to a member's HTTP listener "
                + "(--listen-http-urls). While auth is enabled, every call but the session endpoints and this document needs a "
                + "sign-in; while it is disabled, changes name their author in the X-Conclave-Author header.",
        };

        // The member's own addresses (a listen URL may be 0.0.0.0 or an internal name): a client is given its base URL.
        d.Servers = [];
        d.Components ??= new OpenApiComponents();
        d.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A token from POST /api/v1/session, etcd's Authenticate (gRPC) or POST /v3/auth/authenticate, "
                    + "as Authorization: Bearer <token> (a simple token, or a JWT under --auth-token jwt). Needed only while auth is enabled.",
            },
            [Session] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Cookie,
                Name = Security.Auth.HttpSignIn.CookieName,
                Description = "The console's session cookie (set by POST /api/v1/session or OpenID Connect sign-in); a state-changing "
                    + "request with it must also come from the same origin with a JSON body.",
            },
            [AppCredential] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ConfigCenter.AccessKey.Header,
                Description = "An app credential {id}.{secret} (POST .../credentials), for the client endpoints .../effective and "
                    + ".../reports only; also accepted as Authorization: ConclaveKey {id}.{secret}. Needed while auth is enabled or "
                    + "when the app has credentials.",
            },
        };

        foreach (var (path, item) in d.Paths)
        {
            foreach (var (_, operation) in item.Operations ?? [])
            {
                // An empty requirement is "anonymous": what every call is while auth is disabled.
                operation.Security = Public(path)
                    ? [new OpenApiSecurityRequirement()]
                    : [Requirement(d, Bearer), Requirement(d, Session), .. Client(path) ? [Requirement(d, AppCredential)] : Array.Empty<OpenApiSecurityRequirement>(), new OpenApiSecurityRequirement()];
            }
        }
    }

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument d, string scheme) => new() { [new OpenApiSecuritySchemeReference(scheme, d)] = [] };

    private static bool Public(string path) => path == Path || path == "/api/v1/session" || path.StartsWith("/api/v1/session/", StringComparison.Ordinal);

    private static bool Client(string path) => path.EndsWith("/effective", StringComparison.Ordinal) || path.EndsWith("/reports", StringComparison.Ordinal);
}

using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Conclave.Server.Http;
using Conclave.Server.Security.Auth;
using Conclave.Server.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Tests.Http;

/// <summary>
/// <c>GET /api/v1/openapi.json</c>: generated from the endpoints, so every route mapped under <c>/api/v1</c> (read from
/// the running member's <see cref="EndpointDataSource"/>, not from a list here) is in it with its problem-detail
/// answers; it is OpenAPI 3.1 by the OpenAPI Initiative's schema; anyone may read it, also with auth enabled; it holds
/// nothing of the deployment; and the member process (the native binary under test.sh) serves the same document.
/// </summary>
public sealed partial class OpenApiDocumentTests(NodeFixture fixture, ITestOutputHelper output) : IClassFixture<NodeFixture>
{
    private const string Problem = "application/problem+json";

    /// <summary>The routes that answer without a sign-in while auth is enabled (HttpSignIn): no 401 to declare.</summary>
    private static bool Public(string path) => path == ApiDocument.Path || path == "/api/v1/session" || path.StartsWith("/api/v1/session/", StringComparison.Ordinal);

    [Fact]
    public async Task Every_route_mapped_under_api_v1_is_in_the_document_with_its_problem_responses()
    {
        var document = await FetchAsync(fixture.Node.HttpUrl);
        var paths = document.GetProperty("paths");
        var routes = ApiRoutes(fixture.Node.Server.Services).ToList();
        Assert.True(routes.Count > 80, $"only {routes.Count} routes under /api/v1 found in the endpoint data source");

        var failures = new List<string>();
        foreach (var (path, method, endpoint) in routes)
        {
            var route = $"{method} {path}";
            if (!paths.TryGetProperty(path, out var item) || !item.TryGetProperty(method.ToLowerInvariant(), out var operation))
            {
                failures.Add($"{route}: not in the document");
                continue;
            }

            var declared = endpoint.Metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>()
                .Where(m => m.ContentTypes.Contains(Problem)).Select(m => m.StatusCode).ToHashSet();
            int[] required = Public(path) ? ProblemResponses.BeforeHandler : ProblemResponses.SignedIn;
            foreach (var status in required.Where(s => !declared.Contains(s)))
            {
                failures.Add($"{route}: declares no {status} problem (every route under /api/v1 can answer it: ProblemResponses)");
            }

            var responses = operation.GetProperty("responses");
            foreach (var status in declared)
            {
                if (!responses.TryGetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response)
                    || !response.TryGetProperty("content", out var content) || !content.TryGetProperty(Problem, out _))
                {
                    failures.Add($"{route}: {status} is not in the document as {Problem}");
                }
            }

            if (!responses.EnumerateObject().Any(r => r.Name.StartsWith('2') || r.Name.StartsWith('3')))
            {
                failures.Add($"{route}: no success answer in the document");
            }
        }

        // Nothing in the document that is not mapped (a stale or hand-written entry).
        var mapped = routes.Select(r => (r.Path, r.Method.ToLowerInvariant())).ToHashSet();
        foreach (var item in paths.EnumerateObject())
        {
            failures.AddRange(item.Value.EnumerateObject()
                .Where(o => o.Name is "get" or "put" or "post" or "delete" or "patch" && !mapped.Contains((item.Name, o.Name)))
                .Select(o => $"{o.Name.ToUpperInvariant()} {item.Name}: in the document, not mapped"));
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task The_document_is_OpenAPI_3_1_with_bodies_answers_and_security_schemes()
    {
        var document = await FetchAsync(fixture.Node.HttpUrl);
        Assert.StartsWith("3.1.", document.GetProperty("openapi").GetString());
        Assert.Equal("v1", document.GetProperty("info").GetProperty("version").GetString());
        var components = document.GetProperty("components");
        Assert.True(components.GetProperty("schemas").TryGetProperty("ProblemDetails", out _));
        var schemes = components.GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.Equal(HttpSignIn.CookieName, schemes.GetProperty("session").GetProperty("name").GetString());
        Assert.Equal("cookie", schemes.GetProperty("session").GetProperty("in").GetString());
        Assert.Equal(ConfigCenter.AccessKey.Header, schemes.GetProperty("appCredential").GetProperty("name").GetString());

        var paths = document.GetProperty("paths");
        // A request body and a typed answer, both from the handler's signature.
        var create = paths.GetProperty("/api/v1/apps").GetProperty("post");
        Assert.True(create.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(create.GetProperty("responses").GetProperty("201").GetProperty("content").GetProperty("application/json").TryGetProperty("schema", out _));
        var release = paths.GetProperty("/api/v1/apps/{app}/envs/{env}/namespaces/{ns}/releases").GetProperty("post").GetProperty("responses");
        Assert.True(release.TryGetProperty("200", out _) && release.TryGetProperty("202", out _), release.ToString());
        // The client endpoint takes an app credential; the document itself needs nothing.
        var effective = paths.GetProperty("/api/v1/apps/{app}/envs/{env}/namespaces/{ns}/effective").GetProperty("get");
        Assert.Contains(effective.GetProperty("security").EnumerateArray(), r => r.TryGetProperty("appCredential", out _));
        var self = paths.GetProperty(ApiDocument.Path).GetProperty("get");
        Assert.All(self.GetProperty("security").EnumerateArray(), r => Assert.Empty(r.EnumerateObject()));
    }

    [Fact]
    public async Task The_document_carries_nothing_of_the_deployment_and_revalidates_by_its_ETag()
    {
        using var http = fixture.Node.CreateHttpClient();
        using var response = await http.GetAsync(ApiDocument.Path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Equal("nosniff", string.Join(',', response.Headers.GetValues("X-Content-Type-Options")));
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);

        var text = await response.Content.ReadAsStringAsync();
        var document = JsonDocument.Parse(text).RootElement;
        Assert.True(!document.TryGetProperty("servers", out var servers) || servers.GetArrayLength() == 0, "servers name this member's addresses");
        foreach (var url in (string[])[fixture.Node.HttpUrl, fixture.Node.Endpoint, fixture.Node.PeerUrl])
        {
            Assert.DoesNotContain(new Uri(url).Authority, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(fixture.Node.DataDirectory, text, StringComparison.Ordinal);

        using var again = new HttpRequestMessage(HttpMethod.Get, ApiDocument.Path);
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task The_document_validates_against_the_OpenAPI_3_1_schema()
    {
        var run = await NodeProgram.RunAsync("openapi", "validate.mjs", [fixture.Node.HttpUrl.TrimEnd('/') + ApiDocument.Path], output, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, $"validate.mjs:\n{run}");
        var result = Assert.Single(run.JsonLines);
        Assert.True(result.GetProperty("valid").GetBoolean(), run.ToString());
        Assert.StartsWith("3.1", result.GetProperty("version").GetString());
    }

    [Fact]
    public async Task Anyone_may_read_the_document_while_auth_is_enabled()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        using var http = node.CreateHttpClient();
        using var refused = await http.GetAsync("/api/v1/apps");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var response = await http.GetAsync(ApiDocument.Path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("3.1.", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("openapi").GetString());
    }

    [Fact]
    public async Task The_member_process_serves_the_same_routes_and_answers()
    {
        // Under test.sh the process is the Native AOT binary (CONCLAVE_SERVER_BINARY): the generator and its schemas must
        // work trimmed, from the compile-time JSON metadata alone.
        using var data = TempDirectory.Create();
        await using var member = await NodeProcess.StartAsync(data.Path, new NodeProcessOptions { Output = output });
        var served = Operations(await FetchAsync(member.HttpUrl));
        var expected = Operations(await FetchAsync(fixture.Node.HttpUrl));
        Assert.Equal(expected, served);
        output.WriteLine($"{member}: {served.Count} operation answers, native: {DotnetHost.NativeServer is not null}");
    }

    /// <summary>Each (path, method, status, content types) the document lists.</summary>
    private static SortedSet<string> Operations(JsonElement document)
    {
        var all = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Value.ValueKind == JsonValueKind.Object && o.Value.TryGetProperty("responses", out _)))
            {
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    var types = response.Value.TryGetProperty("content", out var content) ? string.Join(',', content.EnumerateObject().Select(c => c.Name)) : "";
                    all.Add($"{operation.Name} {path.Name} {response.Name} {types}");
                }
            }
        }

        return all;
    }

    private static async Task<JsonElement> FetchAsync(string httpUrl)
    {
        using var http = new HttpClient { BaseAddress = new Uri(httpUrl), Timeout = TimeSpan.FromSeconds(60) };
        using var response = await http.GetAsync(ApiDocument.Path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Every (OpenAPI path, method, endpoint) the running member maps under <c>/api/v1</c>.</summary>
    private static IEnumerable<(string Path, string Method, RouteEndpoint Endpoint)> ApiRoutes(IServiceProvider services)
    {
        foreach (var endpoint in services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            // "{id:long}" is "{id}" in OpenAPI; a group's empty suffix leaves no trailing slash.
            var path = "/" + RouteParameter().Replace(endpoint.RoutePattern.RawText ?? "", "{$1}").Trim('/');
            if (path != "/api/v1" && !path.StartsWith("/api/v1/", StringComparison.Ordinal))
            {
                continue;
            }

            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            Assert.True(methods is { Count: > 0 }, $"{path} is mapped for every method: map it for the methods it serves");
            foreach (var method in methods)
            {
                yield return (path, method, endpoint);
            }
        }
    }

    [GeneratedRegex(@"\{\**([^}:=?]+)[^}]*\}")]
    private static partial Regex RouteParameter();
}

using System.Net;
using System.Text;

namespace Conclave.Server.Tests.Http;

/// <summary>
/// The HTTP listener's request limits (Kestrel's, with the body limit from <c>--max-request-bytes</c>; see the limits
/// table in docs/security.md): oversized headers, request lines and bodies and deeply nested JSON are refused with a
/// status that says which, and the member stays healthy.
/// </summary>
public sealed class HttpListenerLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Oversized_and_deeply_nested_requests_are_refused_and_the_member_stays_healthy()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var http = node.CreateHttpClient();

        // A client per refusal: Kestrel closes a connection after refusing a request on it.
        using var second = node.CreateHttpClient();
        using var third = node.CreateHttpClient();
        using var fourth = node.CreateHttpClient();
        using var fifth = node.CreateHttpClient();

        using (var headers = new HttpRequestMessage(HttpMethod.Get, "/health"))
        {
            headers.Headers.TryAddWithoutValidation("X-Padding", new string('a', 64 * 1024));
            using var response = await http.SendAsync(headers);
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        }

        using (var line = await second.GetAsync(new Uri("/health?" + new string('q', 16 * 1024), UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.RequestUriTooLong, line.StatusCode);
        }

        // /api/v1 bodies end at --max-request-bytes + 512 KiB (2 MiB by default).
        using (var body = await third.PostAsync(new Uri("/api/v1/apps", UriKind.Relative), Json("{\"id\":\"" + new string('a', 3 * 1024 * 1024) + "\"}")))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, body.StatusCode);
        }

        // JSON nested deeper than System.Text.Json's 64 levels is refused before anything else reads it.
        using (var deep = await fourth.PostAsync(new Uri("/api/v1/apps", UriKind.Relative), Json("{\"id\":\"x\",\"n\":" + new string('[', 10_000) + new string(']', 10_000) + "}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, deep.StatusCode);
        }

        // The gateway skips unknown fields without recursion, however deep.
        using (var gateway = await fifth.PostAsync(new Uri("/v3/kv/range", UriKind.Relative), Json("{\"key\":\"Zm9v\",\"x\":" + new string('[', 500_000) + new string(']', 500_000) + "}")))
        {
            Assert.Equal(HttpStatusCode.OK, gateway.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}

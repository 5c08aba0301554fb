using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The YAML bounds on a real member, through the HTTP API a stranger reaches: publishing or validating a document
/// that nests too deep or whose aliases multiply is refused with 422, quickly, and the member stays healthy (before,
/// each of these requests killed or exhausted the member).
/// </summary>
public sealed class YamlBoundsHttpTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    public static TheoryData<string, string> Documents()
    {
        var laughs = new StringBuilder("l0: &l0 [x,x,x,x,x,x,x,x,x,x]\n");
        for (var i = 1; i <= 9; i++)
        {
            laughs.Append($"l{i}: &l{i} [").AppendJoin(",", Enumerable.Repeat($"*l{i - 1}", 10)).Append("]\n");
        }

        return new()
        {
            { new string('[', 120_000) + new string(']', 120_000), "nesting deeper than 64 levels" },
            { "a: &a [1, *a]\n", "alias *a is inside its own anchor" },
            { laughs.ToString(), "aliases expand the document to more than" },
        };
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public async Task Publish_and_validate_refuse_the_document_and_the_member_stays_healthy(string content, string reason)
    {
        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        var app = await fixture.NewAppAsync();
        var ns = $"/api/v1/apps/{app}/envs/DEV/namespaces/doc.yaml";
        await SendAsync(http, HttpMethod.Post, $"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "doc.yaml", format = "yaml" }, HttpStatusCode.Created);
        await SendAsync(http, HttpMethod.Put, $"{ns}/content", new { content }, HttpStatusCode.OK);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var publish = await SendAsync(http, HttpMethod.Post, $"{ns}/releases", new { title = "r1" }, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(reason, publish.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var validate = await SendAsync(http, HttpMethod.Post, $"{ns}/validate", new { content }, HttpStatusCode.OK);
        Assert.False(validate.GetProperty("valid").GetBoolean());
        Assert.Contains(reason, validate.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"refused after {started.Elapsed}");

        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, object body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

using System.Net;
using System.Net.Http.Json;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// A JSON Schema may only reference itself (<c>$ref: "#/..."</c>): the member never fetches a URL or a file for a
/// schema. Before, a <c>$ref</c> to a URL was accepted when attached and made every publish an empty 500.
/// </summary>
public sealed class SchemaReferenceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    public static TheoryData<string> RemoteReferences() => new()
    {
        """{"$ref": "https://example.com/schema.json"}""",
        """{"$ref": "http://127.0.0.1:9/schema.json"}""",
        """{"$ref": "file:///etc/passwd"}""",
        """{"type": "object", "properties": {"port": {"$ref": "other.json#/port"}}}""",
        """{"$defs": {"a": {"$dynamicRef": "https://example.com/x"}}, "type": "object"}""",
        """{"allOf": [{"$ref": "urn:example:thing"}]}""",
    };

    [Theory]
    [MemberData(nameof(RemoteReferences))]
    public void A_remote_reference_is_refused_when_compiled(string schema)
    {
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.CompileSchema(schema, new ConfigLimits()));
        Assert.Equal(ConfigErrorKind.InvalidSchema, e.Kind);
        Assert.Contains("remote references are not allowed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Local_references_still_work()
    {
        const string schema = """{"$defs": {"port": {"type": "integer", "maximum": 65535}}, "type": "object", "properties": {"port": {"$ref": "#/$defs/port"}}}""";
        DocumentValidator.Validate(NamespaceFormat.Json, """{"port": 80}""", schema, new ConfigLimits());
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.Validate(NamespaceFormat.Json, """{"port": 70000}""", schema, new ConfigLimits()));
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
    }

    [Theory]
    [MemberData(nameof(RemoteReferences))]
    public async Task Attaching_a_remote_reference_is_a_422_that_says_so(string schema)
    {
        var app = await fixture.NewAppAsync();
        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        using var create = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "c.json", format = "json", schema });
        await ApiProblemTests.AssertProblemAsync(create, 422, "remote references are not allowed", "create with schema");
        using var created = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "c.json", format = "json" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var attach = await http.PutAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/c.json/schema", new { schema });
        await ApiProblemTests.AssertProblemAsync(attach, 422, "remote references are not allowed", "attach");
    }

    [Fact]
    public async Task A_remote_reference_that_slipped_in_earlier_fails_publish_with_a_422_not_a_500()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "c.json", NamespaceFormat.Json, null, NodeFixture.Alice);
        await fixture.Center.SetContentAsync(app, "DEV", "c.json", """{"port": 80}""", 0, NodeFixture.Alice);

        // As a member before this check would have stored it: the record written as it is.
        var n = await fixture.Center.GetNamespaceAsync(app, "DEV", "c.json");
        var (ok, _) = await fixture.Center.Store.CommitAsync([], [ConfigStore.Put(ConfigKeys.Namespace(app, "DEV", "c.json"), n with { Schema = """{"$ref": "http://127.0.0.1:9/schema.json"}""" })], CancellationToken.None);
        Assert.True(ok);

        using var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        using var publish = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/c.json/releases", new { title = "r1" });
        await ApiProblemTests.AssertProblemAsync(publish, 422, "remote references are not allowed", "publish");
        using var gray = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/c.json/gray", new { rule = new { percentage = 10 } });
        await ApiProblemTests.AssertProblemAsync(gray, 422, "remote references are not allowed", "gray publish");
        using var validate = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/c.json/validate", new { content = """{"port": 80}""" });
        Assert.Equal(HttpStatusCode.OK, validate.StatusCode);
        Assert.Contains("remote references are not allowed", await validate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

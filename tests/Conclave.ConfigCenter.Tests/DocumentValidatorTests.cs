using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter.Tests;

public sealed class DocumentValidatorTests
{
    private static readonly ConfigLimits Limits = new();

    private static ConfigCenterException Fails(NamespaceFormat format, string content, string? schema = null) =>
        Assert.Throws<ConfigCenterException>(() => DocumentValidator.Validate(format, content, schema, Limits));

    [Fact]
    public void Json_error_has_line_and_column()
    {
        var e = Fails(NamespaceFormat.Json, "{\n  \"a\": 1,\n  \"b\": tru\n}");
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
        Assert.Equal(3, e.Line);
        Assert.NotNull(e.Column);
        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_error_has_line_and_column()
    {
        var e = Fails(NamespaceFormat.Yaml, "a: 1\nb: [1, 2\nc: 3\n");
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
        Assert.True(e.Line >= 2, $"line {e.Line}");
        Assert.NotNull(e.Column);
    }

    [Fact]
    public void Properties_errors_name_the_line()
    {
        var e = Fails(NamespaceFormat.Properties, "a=1\n# c\nno separator here\n");
        Assert.Equal(3, e.Line);
        Assert.Equal(1, e.Column);
        var dup = Fails(NamespaceFormat.Properties, "a=1\n  a=2\n");
        Assert.Equal(2, dup.Line);
        Assert.Equal(3, dup.Column);
        Assert.Contains("duplicate", dup.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Properties_round_trip_with_comments()
    {
        var items = PropertiesDocument.Parse("# the port\nport=8080\nhost: example\n", Limits);
        Assert.Equal([new ConfigItem("port", "8080", "the port"), new ConfigItem("host", "example")], items);
        Assert.Equal(items, PropertiesDocument.Parse(PropertiesDocument.Render(items), Limits));
    }

    [Fact]
    public void Schema_checks_json_yaml_and_properties()
    {
        const string schema = """{"type":"object","properties":{"port":{"type":"integer"}},"required":["port"]}""";
        DocumentValidator.Validate(NamespaceFormat.Json, """{"port": 80}""", schema, Limits);
        DocumentValidator.Validate(NamespaceFormat.Yaml, "port: 80\n", schema, Limits);
        var e = Fails(NamespaceFormat.Json, """{"port": "eighty"}""", schema);
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
        Assert.Contains("/port", e.Message, StringComparison.Ordinal);
        Assert.Equal(ConfigErrorKind.InvalidDocument, Fails(NamespaceFormat.Yaml, "host: x\n", schema).Kind);

        const string stringPort = """{"type":"object","properties":{"port":{"type":"string","pattern":"^[0-9]+$"}}}""";
        DocumentValidator.Validate(NamespaceFormat.Properties, "port=80\n", stringPort, Limits);
        Assert.Equal(ConfigErrorKind.InvalidDocument, Fails(NamespaceFormat.Properties, "port=eighty\n", stringPort).Kind);
    }

    [Theory]
    [InlineData("""{"type": 12}""")]
    [InlineData("""{"minimum": "ten"}""")]
    [InlineData("""{"type": "object",""")]
    [InlineData("[1, 2]")]
    public void Invalid_schema_is_refused(string schema)
    {
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.CompileSchema(schema, Limits));
        Assert.Equal(ConfigErrorKind.InvalidSchema, e.Kind);
    }

    [Fact]
    public void Oversized_document_is_refused()
    {
        var e = Fails(NamespaceFormat.Text, new string('x', Limits.MaxContentBytes + 1));
        Assert.Equal(ConfigErrorKind.TooLarge, e.Kind);
    }

    [Fact]
    public void Diff_of_properties_is_per_key()
    {
        var diff = ReleaseDiff.CompareMaps(
            new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" },
            new Dictionary<string, string> { ["b"] = "3", ["c"] = "4" });
        Assert.Equal(
            [new DiffEntry("a", DiffChange.Removed, "1", null), new DiffEntry("b", DiffChange.Changed, "2", "3"), new DiffEntry("c", DiffChange.Added, null, "4")],
            diff);
    }
}

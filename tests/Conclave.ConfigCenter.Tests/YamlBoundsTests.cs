using System.Text;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// YAML documents are untrusted input parsed inside the member (publish, validate): nesting and alias expansion are
/// bounded. Before the bounds, 120,000 nested <c>[</c> and <c>a: &amp;a [1, *a]</c> each overflowed the stack (the
/// process died), and seven levels of ten aliases took 15 s and 9.7 GB of heap.
/// </summary>
public sealed class YamlBoundsTests
{
    private static readonly ConfigLimits Limits = new();

    [Fact]
    public void Nesting_past_the_limit_is_refused_with_its_position()
    {
        const int depth = 120_000;
        var e = Assert.Throws<ConfigCenterException>(() =>
            DocumentValidator.Validate(NamespaceFormat.Yaml, new string('[', depth) + new string(']', depth), null, Limits));
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
        Assert.Contains($"nesting deeper than {DocumentValidator.MaxYamlDepth} levels", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, e.Line);
        Assert.Equal(DocumentValidator.MaxYamlDepth + 1, e.Column);
    }

    [Fact]
    public void Nesting_at_the_limit_is_accepted_also_against_a_schema()
    {
        var depth = DocumentValidator.MaxYamlDepth;
        var content = new string('[', depth) + "1" + new string(']', depth);
        DocumentValidator.Validate(NamespaceFormat.Yaml, content, null, Limits);
        DocumentValidator.Validate(NamespaceFormat.Yaml, content, """{"type":"array"}""", Limits);
    }

    [Fact]
    public void An_alias_inside_its_own_anchor_is_refused()
    {
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.Validate(NamespaceFormat.Yaml, "a: &a [1, *a]\n", null, Limits));
        Assert.Equal(ConfigErrorKind.InvalidDocument, e.Kind);
        Assert.Contains("alias *a is inside its own anchor", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aliases_that_nest_the_document_past_the_limit_are_refused()
    {
        var content = $"a: &a {new string('[', 40)}1{new string(']', 40)}\nb: {new string('[', 40)}*a{new string(']', 40)}\n";
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.Validate(NamespaceFormat.Yaml, content, null, Limits));
        Assert.Contains($"aliases nest the document deeper than {DocumentValidator.MaxYamlDepth} levels", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.Line);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Aliases_that_multiply_the_document_are_refused(bool asKey)
    {
        var laughs = new StringBuilder("l0: &l0 [x,x,x,x,x,x,x,x,x,x]\n");
        for (var i = 1; i <= 9; i++)
        {
            laughs.Append($"l{i}: &l{i} [").AppendJoin(",", Enumerable.Repeat($"*l{i - 1}", 10)).Append("]\n");
        }

        if (asKey)
        {
            laughs.Append("? *l9\n: x\n");
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<ConfigCenterException>(() => DocumentValidator.Validate(NamespaceFormat.Yaml, laughs.ToString(), null, Limits));
        Assert.Contains("aliases expand the document to more than", e.Message, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"refused after {started.Elapsed}");
    }

    [Fact]
    public void Ordinary_aliases_still_work()
    {
        const string content = """
            base: &base
              host: db.internal
              port: 5432
            dev:
              <<: *base
            prod: *base
            """;
        DocumentValidator.Validate(NamespaceFormat.Yaml, content, """{"type":"object","required":["prod"]}""", Limits);
        var parsed = DocumentValidator.Parse(NamespaceFormat.Yaml, content, Limits)!;
        Assert.Equal(5432, parsed["prod"]!["port"]!.GetValue<long>());
    }
}

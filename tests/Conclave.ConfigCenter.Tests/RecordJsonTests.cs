using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The records go through compile-time JSON metadata (the server ships as a Native AOT binary). A property left out
/// of the JSON keeps its declared default, as it did with reflection: a record written by an older server, an import
/// file written by hand or a request body with optional parts left out still reads the same.
/// </summary>
public sealed class RecordJsonTests
{
    [Fact]
    public void A_namespace_record_without_its_optional_parts_keeps_their_defaults()
    {
        var n = ConfigJson.Decode<NamespaceRecord>(ByteString.CopyFromUtf8(
            """{"app":"shop","env":"PRO","name":"application","format":"Properties","updatedAt":"2026-11-26T00:00:00+00:00","updatedBy":"alice"}"""));

        Assert.Equal(1, n.FormatVersion);
        Assert.Empty(n.Items);
        Assert.Equal("", n.Content);
        Assert.Null(n.Gray);
    }

    [Fact]
    public void A_gray_rule_with_one_selector_has_empty_others()
    {
        var rule = ConfigJson.Decode<GrayRule>(ByteString.CopyFromUtf8("""{"instanceIds":["pod-a"]}"""));

        Assert.Equal(["pod-a"], rule.InstanceIds);
        Assert.Empty(rule.Labels);
        Assert.Equal(0, rule.Percentage);
    }

    [Fact]
    public void An_export_file_without_kind_and_version_is_read_as_version_1()
    {
        var file = ConfigJson.Decode<ConfigExport>(ByteString.CopyFromUtf8("""{"app":"shop"}"""));

        Assert.Equal(ConfigExport.KindName, file.Kind);
        Assert.Equal(1, file.FormatVersion);
        Assert.Empty(file.Environments);
    }

    [Fact]
    public void Records_round_trip_with_camel_case_names_and_the_format_version_as_v()
    {
        var release = new ReleaseRecord
        {
            App = "shop", Env = "PRO", Namespace = "application", Id = 3, Kind = ReleaseKind.Normal, Format = NamespaceFormat.Properties,
            Author = "alice", CreatedAt = DateTimeOffset.UnixEpoch, Content = "a=1\n", ContentHash = "h",
            Configurations = new Dictionary<string, string> { ["a"] = "1" },
        };

        var json = ConfigJson.Encode(release);
        var text = json.ToStringUtf8();

        Assert.Contains("\"v\":1", text, StringComparison.Ordinal);
        Assert.Contains("\"contentHash\":\"h\"", text, StringComparison.Ordinal);
        var read = ConfigJson.Decode<ReleaseRecord>(json);
        Assert.Equal(release.Configurations, read.Configurations);
        Assert.Empty(read.SecretKeys);
        Assert.Equal(release with { Configurations = read.Configurations, SecretKeys = read.SecretKeys }, read);
    }
}

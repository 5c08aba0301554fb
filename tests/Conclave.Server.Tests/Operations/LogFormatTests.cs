using System.Text.Json;

namespace Conclave.Server.Tests.Operations;

/// <summary>
/// <c>--log-format json</c>: a real member writes one JSON object per line on standard output, each with the time
/// (ISO 8601, UTC), the level, the category, the event id and the message; a format it does not know stops the start.
/// </summary>
public sealed class LogFormatTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_member_started_with_json_writes_one_json_object_per_line()
    {
        using var dir = TempDirectory.Create();
        var data = dir.Combine("data");
        var node = await NodeProcess.StartAsync(data, new NodeProcessOptions { ExtraArguments = ["--log-format", "json"], Output = output });
        try
        {
            // Traffic that logs (a member's start already did), then a clean stop that logs its shutdown.
            (await Etcdctl.RunAsync(node.Endpoint, "put", "log-format", "json")).EnsureSuccess();
            await node.StopAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await node.DisposeAsync();
        }

        // NodeProcess writes the member's stdout to its log file as it came, stderr prefixed with "stderr: ", and its own
        // markers prefixed with "=== ".
        var lines = (await File.ReadAllLinesAsync(Path.Combine(data, NodeProcess.LogFileName))).Where(static l => !l.StartsWith("=== ", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= 3, $"expected the member's log lines, got {lines.Count}");
        Assert.DoesNotContain(lines, static l => l.StartsWith("stderr: ", StringComparison.Ordinal));
        var ready = false;
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            var root = entry.RootElement;
            Assert.Equal(JsonValueKind.Object, root.ValueKind);
            var timestamp = root.GetProperty("Timestamp").GetString()!;
            Assert.EndsWith("Z", timestamp, StringComparison.Ordinal);
            Assert.True(DateTimeOffset.TryParse(timestamp, System.Globalization.CultureInfo.InvariantCulture, out var at) && at.Offset == TimeSpan.Zero, $"not ISO 8601 UTC: {timestamp}");
            Assert.Contains(root.GetProperty("LogLevel").GetString(), new[] { "Trace", "Debug", "Information", "Warning", "Error", "Critical" });
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Category").GetString()), line);
            Assert.Equal(JsonValueKind.Number, root.GetProperty("EventId").ValueKind);
            Assert.Equal(JsonValueKind.String, root.GetProperty("Message").ValueKind);
            ready |= root.GetProperty("Message").GetString()!.Contains("ready", StringComparison.Ordinal)
                && root.GetProperty("State").TryGetProperty("Name", out var name) && name.GetString() == "conclave-test";
        }

        Assert.True(ready, "the 'member ready' entry, with its Name in State, is among the lines");
    }

    [Fact]
    public async Task An_unknown_log_format_is_refused_before_the_member_starts()
    {
        using var dir = TempDirectory.Create();
        var (code, _, stderr) = await ConclaveCommand.RunAsync(dir.Path, "serve", "--data-dir", dir.Combine("data"), "--log-format", "yaml");
        Assert.Equal(2, code);
        Assert.Contains("--log-format 'yaml': must be text", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Combine("data")), "nothing was written");
    }
}

using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.Cli.Tests.Config;

/// <summary><c>conclave config ...</c> against a real in-process member: every command group, both outputs, readable refusals.</summary>
public sealed class ConfigCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Edit_publish_diff_rollback_gray_and_history()
    {
        var cli = new ConfigCli(node);
        Assert.Contains("created app shop", await cli.OkAsync("app", "create", "shop", "--owner", "team-shop"), StringComparison.Ordinal);
        await cli.OkAsync("env", "create", "PRO", "--app", "shop");
        await cli.OkAsync("ns", "create", "application", "-a", "shop", "-e", "PRO");
        var at = new[] { "-a", "shop", "-e", "PRO", "-n", "application" };
        await cli.OkAsync([.. at, "item", "set", "port", "8080", "--comment", "http port"]);
        await cli.OkAsync([.. at, "item", "set", "timeout", "30s"]);

        var items = await cli.OkAsync([.. at, "item", "list"]);
        Assert.Contains("| port    | 8080  | http port |", items, StringComparison.Ordinal);
        Assert.Contains("| Added  | port", await cli.OkAsync([.. at, "diff"]), StringComparison.Ordinal);
        Assert.Contains("published release 1 of shop/PRO/application", await cli.OkAsync([.. at, "release", "publish", "-t", "first"]), StringComparison.Ordinal);

        await new ConfigCli(node, "bob").OkAsync([.. at, "item", "set", "port", "9090"]);
        await new ConfigCli(node, "bob").OkAsync([.. at, "release", "publish", "-t", "second"]);
        var diff = await cli.OkAsync([.. at, "diff", "--from", "1", "--to", "2"]);
        Assert.Contains("| Changed | port | 8080 | 9090 |", diff, StringComparison.Ordinal);

        Assert.Contains("release 3 restores release 1", await cli.OkAsync([.. at, "rollback", "--to", "1", "-m", "bad port"]), StringComparison.Ordinal);
        var latest = JsonDocument.Parse(await cli.OkAsync([.. at, "release", "get", "-o", "json"])).RootElement;
        Assert.Equal(3, latest.GetProperty("id").GetInt64());
        Assert.Equal("8080", latest.GetProperty("configurations").GetProperty("port").GetString());

        Assert.Contains("gray release 4 published to 10%", await cli.OkAsync([.. at, "gray", "publish", "-p", "10", "-t", "canary"]), StringComparison.Ordinal);
        Assert.Contains("now goes to 20%", await cli.OkAsync([.. at, "gray", "rule", "-p", "20"]), StringComparison.Ordinal);
        Assert.Contains("gray release 4 to 20%; main release 3", await cli.OkAsync([.. at, "gray", "status"]), StringComparison.Ordinal);
        Assert.Contains("main release is 4", await cli.OkAsync([.. at, "gray", "promote"]), StringComparison.Ordinal);

        var history = JsonDocument.Parse(await cli.OkAsync([.. at, "history", "-o", "json"])).RootElement;
        Assert.Equal(["gray-promote", "gray-rule", "gray-publish", "rollback", "publish", "publish"],
            history.EnumerateArray().Select(h => h.GetProperty("operation").GetString()));
        var releases = await cli.OkAsync([.. at, "release", "list"]);
        Assert.Contains(releases.Split('\n'), line => line.StartsWith("| 2 ", StringComparison.Ordinal) && line.Contains("| second ", StringComparison.Ordinal) && line.Contains("| bob ", StringComparison.Ordinal));

        var audit = JsonDocument.Parse(await cli.OkAsync("audit", "-a", "shop", "-o", "json")).RootElement;
        Assert.Contains(audit.EnumerateArray(), a => a.GetProperty("author").GetString() == "bob" && a.GetProperty("action").GetString() == "release.publish");
        var apps = JsonDocument.Parse(await cli.OkAsync("app", "list", "-o", "json")).RootElement;
        Assert.Equal("team-shop", apps.EnumerateArray().Single(a => a.GetProperty("id").GetString() == "shop").GetProperty("owner").GetString());
    }

    [Fact]
    public async Task Refusals_are_one_readable_line_with_exit_code_1()
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", "docs");
        await cli.OkAsync("env", "create", "DEV", "-a", "docs");
        await cli.OkAsync("ns", "create", "settings", "-a", "docs", "-e", "DEV", "--format", "json");
        var at = new[] { "-a", "docs", "-e", "DEV", "-n", "settings" };
        var file = Path.Combine(Path.GetTempPath(), $"conclave-doc-{Guid.NewGuid():N}.json");
        try
        {
            await File.WriteAllTextAsync(file, "{\n  \"a\": 1,\n}\n");
            await cli.OkAsync("ns", "set-content", "settings", "-a", "docs", "-e", "DEV", "--file", file);
        }
        finally
        {
            File.Delete(file);
        }

        var (code, _, error) = await cli.RunAsync([.. at, "release", "publish"]);
        Assert.Equal(1, code);
        Assert.StartsWith("Error: 422 invalid document: json: line 3", error, StringComparison.Ordinal);

        (code, _, error) = await cli.RunAsync("env", "list", "-a", "nope");
        Assert.Equal(1, code);
        Assert.Equal("Error: 404 not found: app 'nope' does not exist", error.Trim());

        (code, _, error) = await cli.RunAsync("env", "list");
        Assert.Equal(1, code);
        Assert.Contains("--app is required", error, StringComparison.Ordinal);

        var revision = JsonDocument.Parse(await cli.OkAsync("ns", "get", "settings", "-a", "docs", "-e", "DEV", "-o", "json")).RootElement.GetProperty("revision").GetInt64();
        await cli.OkAsync("ns", "set-schema", "settings", "-a", "docs", "-e", "DEV");
        (code, _, error) = await cli.RunAsync([.. at, "release", "publish", "--expect-revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(1, code);
        Assert.Contains("409 concurrent edit", error, StringComparison.Ordinal);
        Assert.Contains("current revision", error, StringComparison.Ordinal);

        (code, _, error) = await cli.RunAsync("app", "create", "Bad/Name");
        Assert.Equal(1, code);
        Assert.Contains("400 invalid argument: app 'Bad/Name' is invalid", error, StringComparison.Ordinal);

        var (unreachable, _, why) = await new ConfigCli(node, api: "http://127.0.0.1:1").RunAsync("app", "list");
        Assert.Equal(1, unreachable);
        Assert.Contains("cannot reach the configuration API at http://127.0.0.1:1", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_import_instances_and_deletes()
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", "orders");
        await cli.OkAsync("env", "create", "DEV", "-a", "orders");
        await cli.OkAsync("ns", "create", "application", "-a", "orders", "-e", "DEV");
        var at = new[] { "-a", "orders", "-e", "DEV", "-n", "application" };
        await cli.OkAsync([.. at, "item", "set", "db.pool", "10"]);
        await cli.OkAsync([.. at, "release", "publish"]);

        using (var http = node.CreateHttpClient())
        {
            var report = await http.PostAsJsonAsync("/api/v1/apps/orders/envs/DEV/namespaces/application/reports", new { instanceId = "pod-1", releaseId = 1, status = "Rejected", reason = "pool too small" });
            report.EnsureSuccessStatusCode();
        }

        var instances = await cli.OkAsync([.. at, "instances"]);
        Assert.Contains("| pod-1    | 1       | Rejected | pool too small |", instances, StringComparison.Ordinal);
        Assert.Contains("0 of 1 instances on release 1, 1 rejected it", instances, StringComparison.Ordinal);
        Assert.Contains("pod-1 rejected it: pool too small", instances, StringComparison.Ordinal);
        var instancesJson = JsonDocument.Parse(await cli.OkAsync([.. at, "instances", "-o", "json"])).RootElement;
        Assert.Equal("pod-1", instancesJson.GetProperty("instances")[0].GetProperty("instanceId").GetString());
        Assert.Equal(1, instancesJson.GetProperty("convergence").GetProperty("rejected").GetArrayLength());

        var file = Path.Combine(Path.GetTempPath(), $"conclave-export-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Contains("exported 1 namespace(s) of orders", await cli.OkAsync("export", "-a", "orders", "-e", "DEV", "--file", file), StringComparison.Ordinal);
            var exported = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
            Assert.Equal("conclave.config.export", exported.GetProperty("kind").GetString());
            Assert.Equal(1, exported.GetProperty("v").GetInt32());

            var imported = await cli.OkAsync("import", "-a", "orders", "-e", "FAT", "--file", file);
            Assert.Contains("| FAT | application | Created |", imported, StringComparison.Ordinal);
            Assert.Contains("| db.pool | 10    |", await cli.OkAsync("item", "list", "-a", "orders", "-e", "FAT", "-n", "application"), StringComparison.Ordinal);

            await cli.OkAsync("item", "set", "db.pool", "20", "-a", "orders", "-e", "FAT", "-n", "application");
            var (code, conflicted, error) = await cli.RunAsync("import", "-a", "orders", "-e", "FAT", "--file", file);
            Assert.Equal(1, code);
            Assert.Contains("| Conflict | the working copy has unpublished edits", conflicted, StringComparison.Ordinal);
            Assert.Contains("1 namespace(s) not imported", error, StringComparison.Ordinal);
            Assert.Contains("Updated", await cli.OkAsync("import", "-a", "orders", "-e", "FAT", "--file", file, "--overwrite"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }

        var (refused, _, why) = await cli.RunAsync("ns", "delete", "application", "-a", "orders", "-e", "DEV", "--yes");
        Assert.Equal(1, refused);
        Assert.Contains("412 failed precondition: orders/DEV/application still has 1 live instance record(s)", why, StringComparison.Ordinal);
        Assert.Contains("deleted namespace orders/DEV/application", await cli.OkAsync("ns", "delete", "application", "-a", "orders", "-e", "DEV", "--force", "--yes"), StringComparison.Ordinal);
        await cli.OkAsync("env", "delete", "DEV", "-a", "orders");
        (refused, _, why) = await cli.RunAsync("app", "delete", "orders");
        Assert.Contains("still has 1 environment(s)", why, StringComparison.Ordinal);
        await cli.OkAsync("ns", "delete", "application", "-a", "orders", "-e", "FAT", "--yes");
        await cli.OkAsync("env", "delete", "FAT", "-a", "orders");
        Assert.Contains("deleted app orders", await cli.OkAsync("app", "delete", "orders"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Public_namespace_associated_by_another_app_serves_overrides()
    {
        var cli = new ConfigCli(node);
        foreach (var app in new[] { "platform", "checkout" })
        {
            await cli.OkAsync("app", "create", app);
            await cli.OkAsync("env", "create", "PRO", "-a", app);
        }

        Assert.Contains("created public namespace platform/PRO/logging", await cli.OkAsync("ns", "create", "logging", "--public", "-a", "platform", "-e", "PRO"), StringComparison.Ordinal);
        await cli.OkAsync("item", "set", "level", "info", "-a", "platform", "-e", "PRO", "-n", "logging");
        await cli.OkAsync("item", "set", "format", "json", "-a", "platform", "-e", "PRO", "-n", "logging");
        await cli.OkAsync("release", "publish", "-a", "platform", "-e", "PRO", "-n", "logging");

        Assert.Contains("checkout/PRO/logging associates platform's public namespace", await cli.OkAsync("ns", "associate", "logging", "--base-app", "platform", "-a", "checkout", "-e", "PRO"), StringComparison.Ordinal);
        Assert.Contains("overrides platform", await cli.OkAsync("ns", "list", "-a", "checkout", "-e", "PRO"), StringComparison.Ordinal);
        await cli.OkAsync("item", "set", "level", "debug", "-a", "checkout", "-e", "PRO", "-n", "logging");
        await cli.OkAsync("release", "publish", "-a", "checkout", "-e", "PRO", "-n", "logging");

        using var http = node.CreateHttpClient();
        var effective = await http.GetFromJsonAsync<JsonElement>("/api/v1/apps/checkout/envs/PRO/namespaces/logging/effective?instanceId=pod-1");
        var configurations = effective.GetProperty("release").GetProperty("configurations");
        Assert.Equal("debug", configurations.GetProperty("level").GetString());
        Assert.Equal("json", configurations.GetProperty("format").GetString());

        var (code, _, error) = await cli.RunAsync("ns", "delete", "logging", "-a", "platform", "-e", "PRO", "--yes");
        Assert.Equal(1, code);
        Assert.Contains("is public and associated by checkout", error, StringComparison.Ordinal);
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary><c>conclave config release|rollback|diff|history</c> (--app, --env, --ns).</summary>
internal static class ConfigReleaseCommands
{
    public static Command Release(ConfigOptions options)
    {
        var release = new Command("release", "List, show and publish releases (--app, --env, --ns).");

        var limit = new Option<int>("--limit") { Description = "Most releases listed, newest first.", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List releases, newest first.") { limit };
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(c.NamespacePath("releases") + $"?limit={c.Parse.GetValue(limit)}", c.CancellationToken), ConfigTables.Releases);
            return 0;
        });

        var id = new Argument<string>("ID") { Description = "A release id, or 'latest' for the main release.", DefaultValueFactory = _ => "latest" };
        var get = new Command("get", "Show a release with its content.") { id };
        get.SetConfigAction(options, async c =>
        {
            var which = c.Parse.GetRequiredValue(id);
            if (which != "latest" && !long.TryParse(which, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                throw new ArgumentException($"ID must be a release id or 'latest', got '{which}'.");
            }

            await c.PrintAsync(await c.Api.GetAsync(c.NamespacePath("releases", which), c.CancellationToken), ConfigTables.Release);
            return 0;
        });

        var title = new Option<string?>("--title", "-t") { Description = "Release title." };
        var comment = new Option<string?>("--comment", "-m") { Description = "Release comment." };
        var expect = ConfigCommands.ExpectOption();
        var publish = new Command("publish", "Validate the working copy and publish it as the next release (clients receive it).") { title, comment, expect };
        publish.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("releases"), new JsonObject { ["title"] = c.Parse.GetValue(title), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = c.Parse.GetValue(expect) }, c.CancellationToken);
            await c.PrintAsync(answer, r => r.TryGetProperty("requestedBy", out _)
                ? $"filed release request {ConfigTables.S(r, "id")}: {c.App}/{c.Env}/{c.Ns} requires approval by another person with the release permission (conclave config release approve {ConfigTables.S(r, "id")})"
                : $"published release {ConfigTables.S(r, "id")} of {ConfigTables.S(r, "app")}/{ConfigTables.S(r, "env")}/{ConfigTables.S(r, "namespace")} (sha256 {ConfigTables.S(r, "contentHash")[..12]})");
            return 0;
        });

        var status = new Option<string?>("--status") { Description = "Only requests in this state." };
        status.AcceptOnlyFromAmong("pending", "approved", "rejected");
        var requests = new Command("requests", "List the namespace's release requests, newest first (namespaces that require approval).") { status };
        requests.SetConfigAction(options, async c =>
        {
            var query = c.Parse.GetValue(status) is { } s ? $"?status={s}" : "";
            await c.PrintAsync(await c.Api.GetAsync(c.NamespacePath("requests") + query, c.CancellationToken), list => ConfigTables.Table(list, ["ID", "STATUS", "REQUESTED BY", "TITLE", "DECIDED BY", "RELEASE"],
                r => [ConfigTables.S(r, "id"), ConfigTables.S(r, "status"), ConfigTables.S(r, "requestedBy"), ConfigTables.S(r, "title"), ConfigTables.S(r, "decidedBy"), ConfigTables.S(r, "releaseId")]));
            return 0;
        });

        var showId = new Argument<long>("ID") { Description = "The request." };
        var showRequest = new Command("request", "Show a release request and what it would change against the main release.") { showId };
        showRequest.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(c.NamespacePath("requests", c.Parse.GetValue(showId).ToString(System.Globalization.CultureInfo.InvariantCulture)), c.CancellationToken), v =>
            {
                var r = v.GetProperty("request");
                var head = $"request {ConfigTables.S(r, "id")} by {ConfigTables.S(r, "requestedBy")}: {ConfigTables.S(r, "status")} \"{ConfigTables.S(r, "title")}\"\n";
                return head + ConfigTables.Table(v.GetProperty("diff"), ["KEY", "CHANGE", "OLD", "NEW"], d => [ConfigTables.S(d, "key"), ConfigTables.S(d, "change"), ConfigTables.S(d, "oldValue"), ConfigTables.S(d, "newValue")]);
            });
            return 0;
        });

        foreach (var (verb, past) in new[] { ("approve", "approved: published release"), ("reject", "rejected") })
        {
            var decideId = new Argument<long>("ID") { Description = "The request." };
            var why = new Option<string?>("--comment", "-m") { Description = "Why." };
            var decide = new Command(verb, verb == "approve"
                ? "Approve a release request: it ships as the next release (another person than the requester, with the release permission)."
                : "Reject a release request (or withdraw your own): nothing ships.") { decideId, why };
            decide.SetConfigAction(options, async c =>
            {
                var requestId = c.Parse.GetValue(decideId).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var answer = await c.Api.PostAsync(c.NamespacePath("requests", requestId, verb), new JsonObject { ["comment"] = c.Parse.GetValue(why) }, c.CancellationToken);
                await c.PrintAsync(answer, r => verb == "approve" ? $"request {requestId} {past} {ConfigTables.S(r, "id")}" : $"request {requestId} {past}");
                return 0;
            });
            release.Subcommands.Add(decide);
        }

        release.Subcommands.Add(list);
        release.Subcommands.Add(get);
        release.Subcommands.Add(publish);
        release.Subcommands.Add(requests);
        release.Subcommands.Add(showRequest);
        return release;
    }

    public static Command Rollback(ConfigOptions options)
    {
        var to = new Option<long>("--to") { Description = "The release whose content to restore.", Required = true };
        var comment = new Option<string?>("--comment", "-m") { Description = "Why." };
        var expect = ConfigCommands.ExpectOption();
        var rollback = new Command("rollback", "Publish a new release restoring an earlier release's content (--app, --env, --ns).") { to, comment, expect };
        rollback.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("rollback"), new JsonObject { ["toReleaseId"] = c.Parse.GetValue(to), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = c.Parse.GetValue(expect) }, c.CancellationToken);
            await c.PrintAsync(answer, r => $"release {ConfigTables.S(r, "id")} restores release {ConfigTables.S(r, "rollbackOf")}");
            return 0;
        });
        return rollback;
    }

    public static Command Diff(ConfigOptions options)
    {
        var from = new Option<long?>("--from") { Description = "Older release id (with --to)." };
        var to = new Option<long?>("--to") { Description = "Newer release id (with --from)." };
        var otherEnv = new Option<string?>("--with-env") { Description = "Compare the main release of --env with this environment's." };
        var diff = new Command("diff", "Diff two releases (--from/--to), the working copy against the main release (default), or two environments (--with-env).") { from, to, otherEnv };
        diff.SetConfigAction(options, async c =>
        {
            string path;
            if (c.Parse.GetValue(otherEnv) is { } other)
            {
                path = ConfigApi.Path("apps", c.App, "diff") + $"?ns={Uri.EscapeDataString(c.Ns)}&envA={Uri.EscapeDataString(c.Env)}&envB={Uri.EscapeDataString(other)}";
            }
            else if (c.Parse.GetValue(from) is { } f && c.Parse.GetValue(to) is { } t)
            {
                path = c.NamespacePath("diff") + $"?from={f}&to={t}";
            }
            else if (c.Parse.GetValue(from) is null && c.Parse.GetValue(to) is null)
            {
                path = c.NamespacePath("diff");
            }
            else
            {
                throw new ArgumentException("--from and --to go together.");
            }

            await c.PrintAsync(await c.Api.GetAsync(path, c.CancellationToken), ConfigTables.Diff);
            return 0;
        });
        return diff;
    }

    public static Command History(ConfigOptions options)
    {
        var limit = new Option<int>("--limit") { Description = "Most entries, newest first.", DefaultValueFactory = _ => 100 };
        var history = new Command("history", "Publishes, rollbacks and gray changes of a namespace, newest first (--app, --env, --ns).") { limit };
        history.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(c.NamespacePath("history") + $"?limit={c.Parse.GetValue(limit)}", c.CancellationToken), ConfigTables.History);
            return 0;
        });
        return history;
    }
}

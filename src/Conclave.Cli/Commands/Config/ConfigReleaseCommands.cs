using System.CommandLine;
using System.Globalization;
using System.Text.Json;
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
        var dryRun = DryRunOption();
        var publish = new Command("publish", "Show what publishing ships (the working copy against the main release), then validate and publish it as the next release (clients receive it).") { title, comment, expect, dryRun };
        publish.SetConfigAction(options, async c =>
        {
            var guard = await PreviewAsync(c, c.NamespacePath("diff"), "ship to every instance", c.Parse.GetValue(expect));
            if (c.Parse.GetValue(dryRun))
            {
                return 0;
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("releases"), new JsonObject { ["title"] = c.Parse.GetValue(title), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = guard }, c.CancellationToken);
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
        var discardEdits = new Option<bool>("--discard-edits") { Description = "Drop unpublished edits: the working copy becomes the restored release." };
        var keepEdits = new Option<bool>("--keep-edits") { Description = "Keep unpublished edits in the working copy (the next publish ships them)." };
        var ignoreSchema = new Option<bool>("--ignore-schema") { Description = "Restore a release the namespace's current schema refuses (it was valid when published); audited." };
        var expect = ConfigCommands.ExpectOption();
        var dryRun = DryRunOption();
        var rollback = new Command("rollback", "Publish a new release restoring an earlier release's content and reset the working copy to it, so the next publish does not ship the bad content again (--app, --env, --ns).")
        {
            to, comment, discardEdits, keepEdits, ignoreSchema, expect, dryRun,
        };
        rollback.SetConfigAction(options, async c =>
        {
            if (c.Parse.GetValue(discardEdits) && c.Parse.GetValue(keepEdits))
            {
                throw new ArgumentException("--discard-edits and --keep-edits exclude each other.");
            }

            var n = await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
            var head = n is { } ns ? ConfigTables.S(ns, "headReleaseId") : "0";
            var guard = await PreviewAsync(c, c.NamespacePath("diff") + $"?from={head}&to={c.Parse.GetValue(to)}", "ship to every instance", c.Parse.GetValue(expect), n);
            if (c.Parse.GetValue(dryRun))
            {
                return 0;
            }

            var edits = c.Parse.GetValue(discardEdits) ? "discard" : c.Parse.GetValue(keepEdits) ? "keep" : "refuse";
            var answer = await c.Api.PostAsync(c.NamespacePath("rollback"), new JsonObject
            {
                ["toReleaseId"] = c.Parse.GetValue(to), ["comment"] = c.Parse.GetValue(comment), ["edits"] = edits,
                ["ignoreSchema"] = c.Parse.GetValue(ignoreSchema), ["expectedRevision"] = guard,
            }, c.CancellationToken);
            await c.PrintAsync(answer, r => $"release {ConfigTables.S(r, "id")} restores release {ConfigTables.S(r, "rollbackOf")}; the working copy is " + (edits == "keep" ? "as it was" : $"release {ConfigTables.S(r, "rollbackOf")}'s content"));
            return 0;
        });
        return rollback;
    }

    public static Command Discard(ConfigOptions options)
    {
        var expect = ConfigCommands.ExpectOption();
        var dryRun = DryRunOption();
        var discard = new Command("discard", "Reset the working copy to the main release, dropping unpublished edits (--app, --env, --ns).") { expect, dryRun };
        discard.SetConfigAction(options, async c =>
        {
            var guard = await PreviewAsync(c, c.NamespacePath("diff"), "are discarded", c.Parse.GetValue(expect));
            if (c.Parse.GetValue(dryRun))
            {
                return 0;
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("discard"), new JsonObject { ["expectedRevision"] = guard }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"working copy reset to release {ConfigTables.S(n, "headReleaseId")}; revision {ConfigTables.S(n, "revision")}");
            return 0;
        });
        return discard;
    }

    /// <summary><c>--dry-run</c>: show what would ship, change nothing.</summary>
    public static Option<bool> DryRunOption() => new("--dry-run") { Description = "Show what the command would ship and stop." };

    /// <summary>
    /// Prints (text output) the diff a change will ship, read from <paramref name="diffPath"/>, and returns the namespace
    /// revision to guard the change with: the caller's <c>--expect-revision</c>, or the revision read before the diff, so
    /// the change is refused (409) if the namespace moved after the diff was shown: what ships is what was shown.
    /// </summary>
    /// <param name="read">The namespace as the caller already read it (its revision is the guard), or null to read it here.</param>
    public static async Task<long> PreviewAsync(ConfigContext c, string diffPath, string what, long expected, JsonElement? read = null)
    {
        var n = read ?? await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
        var revision = expected > 0 ? expected : n is { } ns && ns.TryGetProperty("revision", out var r) ? r.GetInt64() : 0;
        var diff = await c.Api.GetAsync(diffPath, c.CancellationToken);
        if (!c.Json && diff is { } d)
        {
            await c.Out.WriteLineAsync(d.GetArrayLength() == 0 ? "no differences: nothing changes" : $"these changes {what}:\n{ConfigTables.Diff(d).TrimEnd('\n')}");
        }

        return revision;
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

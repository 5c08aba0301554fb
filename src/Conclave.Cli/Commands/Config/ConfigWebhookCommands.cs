using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// <c>conclave config webhook add|list|remove|deliveries|ping|redeliver</c>: HTTP endpoints subscribed to --app's
/// configuration events (ADR 0016). The signing secret is printed once, at creation.
/// </summary>
internal static class ConfigWebhookCommands
{
    public static Command Create(ConfigOptions options)
    {
        var webhook = new Command("webhook", "Subscribe HTTP(S) endpoints to the app's events (publish, rollback, gray, approvals, rejections); signed, retried, logged.");

        var url = new Option<string>("--url") { Description = "The endpoint (http:// or https://) that receives a signed JSON POST per event.", Required = true };
        var events = new Option<string?>("--events") { Description = "Comma-separated event types or families (release.publish,gray.*,instance.reject); default: releases, rollbacks, gray, plans, approvals, rejections." };
        var description = new Option<string?>("--description") { Description = "What the webhook is for." };
        var add = new Command("add", "Create a webhook of --app (narrowed by --env/--ns when given) and print its signing secret once.") { url, events, description };
        add.SetConfigAction(options, async c =>
        {
            var filters = new JsonArray();
            foreach (var e in (c.Parse.GetValue(events) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                filters.Add((JsonNode?)JsonValue.Create(e));
            }

            var body = new JsonObject
            {
                ["url"] = c.Parse.GetRequiredValue(url), ["env"] = c.OptionalEnv, ["namespace"] = c.OptionalNs,
                ["events"] = filters.Count == 0 ? null : filters, ["description"] = c.Parse.GetValue(description),
            };
            var issued = await c.Api.PostAsync(Path(c), body, c.CancellationToken);
            if (c.Json)
            {
                await c.PrintAsync(issued, _ => "");
            }
            else if (issued is { } value)
            {
                var hook = value.GetProperty("webhook");
                await c.Out.WriteLineAsync($"Created webhook {ConfigTables.S(hook, "id")} of {c.App} -> {ConfigTables.S(hook, "url")} (events {ConfigTables.S(hook, "events")}). Its signing secret, shown this once:");
                await c.Out.WriteLineAsync();
                await c.Out.WriteLineAsync($"  {ConfigTables.S(value, "secret")}");
                await c.Out.WriteLineAsync();
                await c.Out.WriteLineAsync("Each request carries X-Conclave-Signature-256: sha256=<hex HMAC-SHA256 of the body under this secret> and X-Conclave-Event-Id (the idempotency key).");
            }

            return 0;
        });

        var list = new Command("list", "List the app's webhooks (id, URL, scope, events, the secret's last 4 characters); never the secrets.");
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(Path(c), c.CancellationToken), Webhooks);
            return 0;
        });

        var id = new Argument<string>("ID") { Description = "The webhook's id." };
        var remove = new Command("remove", "Delete a webhook and its delivery log; deliveries not sent yet are dropped.") { id };
        remove.SetConfigAction(options, async c =>
        {
            var which = c.Parse.GetRequiredValue(id);
            await c.Api.DeleteAsync(ConfigApi.Path("apps", c.App, "webhooks", which), c.CancellationToken);
            await c.Out.WriteLineAsync($"Removed webhook {which} of {c.App}.");
            return 0;
        });

        var limit = new Option<int?>("--limit") { Description = "At most this many deliveries, newest first (the log keeps 100 per webhook)." };
        var deliveries = new Command("deliveries", "The webhook's delivery log: event, state, attempts, last status or error, next attempt.") { id, limit };
        deliveries.SetConfigAction(options, async c =>
        {
            var path = ConfigApi.Path("apps", c.App, "webhooks", c.Parse.GetRequiredValue(id), "deliveries") + (c.Parse.GetValue(limit) is { } n ? $"?limit={n}" : "");
            await c.PrintAsync(await c.Api.GetAsync(path, c.CancellationToken), Deliveries);
            return 0;
        });

        var ping = new Command("ping", "Send a signed test event ('ping') to the webhook; see it in its deliveries.") { id };
        ping.SetConfigAction(options, async c =>
        {
            var delivery = await c.Api.PostAsync(ConfigApi.Path("apps", c.App, "webhooks", c.Parse.GetRequiredValue(id), "ping"), null, c.CancellationToken);
            await c.PrintAsync(delivery, d => $"Queued {ConfigTables.S(d, "eventId")} for webhook {ConfigTables.S(d, "webhookId")}: see 'conclave config webhook deliveries {ConfigTables.S(d, "webhookId")}'.");
            return 0;
        });

        var eventId = new Argument<string>("EVENT") { Description = "The event id of the delivery (from 'deliveries')." };
        var redeliver = new Command("redeliver", "Send a delivery again from its first attempt, with the same body and event id.") { id, eventId };
        redeliver.SetConfigAction(options, async c =>
        {
            var delivery = await c.Api.PostAsync(
                ConfigApi.Path("apps", c.App, "webhooks", c.Parse.GetRequiredValue(id), "deliveries", c.Parse.GetRequiredValue(eventId), "redeliver"), null, c.CancellationToken);
            await c.PrintAsync(delivery, d => $"Queued {ConfigTables.S(d, "eventId")} again for webhook {ConfigTables.S(d, "webhookId")}.");
            return 0;
        });

        foreach (var command in new[] { add, list, remove, deliveries, ping, redeliver })
        {
            webhook.Subcommands.Add(command);
        }

        return webhook;
    }

    private static string Path(ConfigContext c) => ConfigApi.Path("apps", c.App, "webhooks");

    private static string Webhooks(JsonElement list) =>
        ConfigTables.Table(list, ["ID", "URL", "ENV", "NAMESPACE", "EVENTS", "SECRET ENDS", "CREATED BY", "CREATED"], w =>
            [ConfigTables.S(w, "id"), ConfigTables.S(w, "url"), Or(ConfigTables.S(w, "env")), Or(ConfigTables.S(w, "namespace")), ConfigTables.S(w, "events"),
             ConfigTables.S(w, "secretHint"), ConfigTables.S(w, "createdBy"), ConfigTables.Time(w, "createdAt")]);

    private static string Deliveries(JsonElement list) =>
        ConfigTables.Table(list, ["EVENT", "TYPE", "STATE", "ATTEMPTS", "LAST STATUS", "LAST ERROR", "LAST ATTEMPT", "NEXT ATTEMPT"], d =>
            [ConfigTables.S(d, "eventId"), ConfigTables.S(d, "eventType"), ConfigTables.S(d, "state"), ConfigTables.S(d, "attempts"), ConfigTables.S(d, "lastStatus"),
             ConfigTables.S(d, "lastError"), ConfigTables.Time(d, "lastAttemptAt"), ConfigTables.S(d, "state") == "Pending" ? ConfigTables.Time(d, "nextAttemptAt") : ""]);

    private static string Or(string s) => s.Length == 0 ? "*" : s;
}

using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace Conclave.Server.Config;

/// <summary>
/// Read models the web console needs on top of the center's API (same <c>/api/v1</c> group and error mapping):
/// an environment's overview, a validation dry-run, live delivery (server-sent events) and the audit of every app.
/// </summary>
internal static class ConfigConsoleApi
{
    public const int MaxAuditEntries = 1000;

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/apps/{app}/envs/{env}/overview", OverviewAsync).Produces<List<NamespaceSummary>>();
        api.MapPost("/apps/{app}/envs/{env}/namespaces/{ns}/validate", ValidateAsync).Produces<ValidationResult>();
        api.MapGet("/apps/{app}/envs/{env}/namespaces/{ns}/delivery", async (string app, string env, string ns, DeliveryFeed feed, CancellationToken ct) =>
            TypedResults.Ok(await feed.SnapshotAsync(app, env, ns, ct)));
        api.MapGet("/apps/{app}/envs/{env}/namespaces/{ns}/delivery/events", DeliveryEventsAsync).Produces<DeliverySnapshot>(contentType: "text/event-stream");
        api.MapGet("/audit", AuditAsync).Produces<List<AuditView>>();
        api.MapGet("/audit/export", AuditExportAsync).Produces<AuditView>(contentType: "application/x-ndjson");
    }

    private static async Task<IResult> OverviewAsync(string app, string env, ConfigCenterService center, CancellationToken cancellationToken)
    {
        var summaries = new List<NamespaceSummary>();
        foreach (var n in await center.ListNamespacesAsync(app, env, cancellationToken))
        {
            var head = await center.Store.ReleaseAsync(app, env, n.Name, n.HeadReleaseId, cancellationToken);
            var working = ConfigCenterService.WorkingContent(n);
            var unpublished = head is null ? working.Length > 0 : ConfigCenterService.Hash(working) != head.ContentHash;
            summaries.Add(new NamespaceSummary(n.Name, n.Format, n.Revision, head is null ? null : ReleaseSummary.Of(head), n.Gray, unpublished, n.UpdatedAt, n.UpdatedBy));
        }

        return Results.Ok(summaries);
    }

    private static async Task<IResult> ValidateAsync(string app, string env, string ns, ValidateBody body, ConfigCenterService center, CancellationToken cancellationToken)
    {
        var n = await center.GetNamespaceAsync(app, env, ns, cancellationToken);
        try
        {
            DocumentValidator.Validate(n.Format, body.Content ?? "", n.Schema, center.Limits);
            return Results.Ok(new ValidationResult(true));
        }
        catch (ConfigCenterException e)
        {
            return Results.Ok(new ValidationResult(false, e.Kind.ToString(), e.Message, e.Line, e.Column));
        }
    }

    private static async Task<IResult> DeliveryEventsAsync(string app, string env, string ns, DeliveryFeed feed, IHostApplicationLifetime lifetime, HttpContext http)
    {
        var token = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.RegisterForDispose(token);
        var stream = await feed.OpenAsync(app, env, ns, token.Token);
        return TypedResults.ServerSentEvents(Http.SseStreams.UntilCancelledAsync(stream, token.Token));
    }

    private static async Task<IResult> AuditAsync(string? app, string? author, string? action, string? q, DateTimeOffset? since, DateTimeOffset? until, int? limit, ConfigCenterService center, CancellationToken cancellationToken)
    {
        var entries = (await QueryAuditAsync(center, app, author, action, q, since, until, cancellationToken))
            .OrderByDescending(x => x.At)
            .Take(Math.Clamp(limit ?? 200, 1, MaxAuditEntries))
            .ToList();
        return Results.Ok(entries);
    }

    /// <summary>
    /// The audit as JSON lines (<c>application/x-ndjson</c>), oldest first, every entry that matches: what a SIEM or an
    /// archive takes in. Root only while auth is enabled (it spans every app).
    /// </summary>
    private static async Task AuditExportAsync(HttpContext http, string? app, string? author, string? action, string? q, DateTimeOffset? since, DateTimeOffset? until, ConfigCenterService center, CancellationToken cancellationToken)
    {
        Security.Auth.HttpSignIn.RequireAdmin(http);
        var entries = (await QueryAuditAsync(center, app, author, action, q, since, until, cancellationToken)).OrderBy(x => x.At);
        http.Response.ContentType = "application/x-ndjson";
        http.Response.Headers.ContentDisposition = "attachment; filename=\"conclave-audit.jsonl\"";
        foreach (var entry in entries)
        {
            await http.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(entry, Http.HttpJsonContext.Default.AuditView), cancellationToken);
            await http.Response.WriteAsync("\n", cancellationToken);
        }
    }

    private static async Task<IEnumerable<AuditView>> QueryAuditAsync(ConfigCenterService center, string? app, string? author, string? action, string? q, DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(app) && app != ConfigAccess.CenterAudit)
        {
            await center.GetAppAsync(app, cancellationToken);
        }

        // Audit keys are ordered by app, then time: a time window within one app is a key range; across apps every
        // matching entry is read.
        var prefix = string.IsNullOrEmpty(app) ? ConfigKeys.AllAudits() : ConfigKeys.Audits(app);
        var root = ConfigKeys.AllAudits().ToStringUtf8();
        return (await center.Store.ListAsync<AuditEntry>(prefix, cancellationToken))
            .Select(x => (App: x.Kv.Key.ToStringUtf8()[root.Length..].Split('/')[0], Entry: x.Value))
            .Where(x => string.IsNullOrEmpty(author) || string.Equals(x.Entry.Author, author, StringComparison.OrdinalIgnoreCase))
            .Where(x => string.IsNullOrEmpty(action) || x.Entry.Action.StartsWith(action, StringComparison.OrdinalIgnoreCase))
            .Where(x => string.IsNullOrEmpty(q) || x.Entry.Target.Contains(q, StringComparison.OrdinalIgnoreCase) || x.Entry.Detail.Contains(q, StringComparison.OrdinalIgnoreCase))
            .Where(x => (since is null || x.Entry.At >= since) && (until is null || x.Entry.At < until))
            .Select(x => new AuditView(x.App, x.Entry.At, x.Entry.Author, x.Entry.From, x.Entry.Action, x.Entry.Target, x.Entry.Detail) { RequestId = x.Entry.RequestId });
    }
}

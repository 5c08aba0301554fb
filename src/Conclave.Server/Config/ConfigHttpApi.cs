using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Config;

/// <summary>
/// The configuration center's JSON API under <c>/api/v1</c> on the HTTP listener. Changes name their author
/// in the <see cref="AuthorHeader"/> header; refusals are RFC 7807 problem details.
/// </summary>
public static class ConfigHttpApi
{
    /// <summary>Who makes a change, until authentication exists. Required on every write.</summary>
    public const string AuthorHeader = "X-Conclave-Author";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1");
        // The refusals below, as the document at /api/v1/openapi.json lists them (ProblemResponses).
        Http.ProblemResponses.ProducesProblems(api, Http.ProblemResponses.CenterRead, Http.ProblemResponses.CenterWrite);
        api.AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (ConfigCenterException e)
            {
                return ConfigErrors.ToProblem(e, context.HttpContext);
            }
            catch (BadHttpRequestException e)
            {
                return Results.Problem(detail: e.Message, statusCode: StatusCodes.Status400BadRequest, title: "bad request");
            }
            catch (Cluster.ConsensusUnavailableException e)
            {
                // No leader, a leader change, a timeout: say so (and whether it certainly did not apply) instead of a bare 500.
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return Results.Problem(
                    detail: e.Message,
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: e.NotApplied ? "unavailable; not applied" : "unavailable; outcome unknown",
                    extensions: new Dictionary<string, object?> { ["code"] = "Unavailable", ["reason"] = e.Reason.ToString(), ["notApplied"] = e.NotApplied });
            }
            catch (Api.Errors.ConclaveErrorException e)
            {
                var status = e.Code switch
                {
                    Api.Errors.ErrorCode.NoLeader or Api.Errors.ErrorCode.NotLeader or Api.Errors.ErrorCode.LeaderChanged or Api.Errors.ErrorCode.Timeout or Api.Errors.ErrorCode.Stopped => StatusCodes.Status503ServiceUnavailable,
                    Api.Errors.ErrorCode.NoSpace => StatusCodes.Status507InsufficientStorage,
                    Api.Errors.ErrorCode.PermissionDenied => StatusCodes.Status403Forbidden,
                    Api.Errors.ErrorCode.InvalidAuthToken or Api.Errors.ErrorCode.UserEmpty => StatusCodes.Status401Unauthorized,
                    _ => StatusCodes.Status400BadRequest,
                };
                return Results.Problem(detail: e.Message, statusCode: status, title: e.Code.ToString(), extensions: new Dictionary<string, object?> { ["code"] = e.Code.ToString() });
            }
        });

        // Without limit, after or prefix: every app, as before. With any of them: one page (a range read of at most
        // limit keys, default 100), its next cursor in a Link header and X-Conclave-Next-After (none on the last page).
        api.MapGet("/apps", async (int? limit, string? after, string? prefix, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
        {
            if (limit is null && after is null && prefix is null)
            {
                return Items(await c.ListAppsAsync(ct));
            }

            var page = await c.ListAppsAsync(limit ?? 100, after, prefix, ct);
            if (page.Next is { } next)
            {
                var query = $"limit={limit ?? 100}&after={Uri.EscapeDataString(next)}{(prefix is null ? "" : "&prefix=" + Uri.EscapeDataString(prefix))}";
                h.Response.Headers.Link = $"</api/v1/apps?{query}>; rel=\"next\"";
                h.Response.Headers["X-Conclave-Next-After"] = next;
            }

            return Items(page.Items);
        });
        api.MapPost("/apps", async (CreateAppBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/apps/{b.Id}", await c.CreateAppAsync(b.Id, b.Name, b.Owner, Who(h), ct)));
        api.MapGet("/apps/{app}", async (string app, ConfigCenterService c, CancellationToken ct) => TypedResults.Ok(await c.GetAppAsync(app, ct)));
        api.MapDelete("/apps/{app}", async (string app, HttpContext h, ConfigRemovalService r, CancellationToken ct) =>
        {
            await r.DeleteAppAsync(app, Who(h), ct);
            return TypedResults.NoContent();
        });
        api.MapGet("/apps/{app}/export", async (string app, string? env, string? ns, ConfigTransferService t, CancellationToken ct) =>
            TypedResults.Ok(await t.ExportAsync(app, env, ns, ct)));
        api.MapPost("/apps/{app}/import", async (string app, string? env, bool? overwrite, bool? dryRun, ConfigExport file, HttpContext h, ConfigTransferService t, CancellationToken ct) =>
            TypedResults.Ok(await t.ImportAsync(app, file, env, overwrite ?? false, dryRun ?? false, Who(h), ct)));
        api.MapGet("/settings", async (ConfigCenterService c, CancellationToken ct) => TypedResults.Ok(await c.Access.GetSettingsAsync(ct)));
        api.MapPut("/settings", async (ConfigSettings b, HttpContext h, ConfigCenterService c, CancellationToken ct) => TypedResults.Ok(await c.Access.SetSettingsAsync(Who(h), b, ct)));
        api.MapGet("/apps/{app}/access", async (string app, ConfigCenterService c, CancellationToken ct) => TypedResults.Ok(await c.Access.GetAsync(app, ct)));
        api.MapPut("/apps/{app}/access/owner", async (string app, OwnerBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.SetOwnerAsync(Who(h), app, b.Owner, ct)));
        api.MapPost("/apps/{app}/access/admins", async (string app, SubjectBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.AddAdminAsync(Who(h), app, b.Subject, ct)));
        api.MapDelete("/apps/{app}/access/admins/{subject}", async (string app, string subject, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.RemoveAdminAsync(Who(h), app, subject, ct)));
        api.MapPost("/apps/{app}/access/grants", async (string app, GrantBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.GrantAsync(Who(h), app, new AccessGrant(b.Subject, b.Permission, b.Env ?? "*", b.Namespace ?? "*"), ct)));
        api.MapDelete("/apps/{app}/access/grants", async (string app, string subject, string permission, string? env, string? ns, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.RevokeAsync(Who(h), app, new AccessGrant(subject, ParsePermission(permission), env ?? "*", ns ?? "*"), ct)));
        api.MapGet("/apps/{app}/audit", async (string app, int? limit, ConfigCenterService c, CancellationToken ct) => Items(await c.AuditAsync(app, limit ?? 100, ct)));
        api.MapGet("/apps/{app}/envs", async (string app, ConfigCenterService c, CancellationToken ct) => Items(await c.ListEnvironmentsAsync(app, ct)));
        api.MapPost("/apps/{app}/envs", async (string app, CreateEnvironmentBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/apps/{app}/envs/{b.Name}", await c.CreateEnvironmentAsync(app, b.Name, Who(h), ct)));
        api.MapDelete("/apps/{app}/envs/{env}", async (string app, string env, HttpContext h, ConfigRemovalService r, CancellationToken ct) =>
        {
            await r.DeleteEnvironmentAsync(app, env, Who(h), ct);
            return TypedResults.NoContent();
        });
        api.MapGet("/apps/{app}/diff", async (string app, string ns, string envA, string envB, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            Items(await c.DiffEnvironmentsAsync(app, envA, envB, ns, reveal ?? false, Viewer(h), ct)));

        // Re-wraps every data key under the current master key (ADR 0015): root only when auth is enabled.
        api.MapPost("/keys/rotate", async (HttpContext h, ConfigCenterService c, CancellationToken ct) =>
        {
            Security.Auth.HttpSignIn.RequireAdmin(h);
            return TypedResults.Ok(await c.RotateKeysAsync(Who(h), ct));
        });

        WebhookHttpApi.Map(api);

        var credentials = api.MapGroup("/apps/{app}/envs/{env}/credentials");
        credentials.MapGet("", async (string app, string env, HttpContext h, CredentialService cr, CancellationToken ct) =>
            Items(await cr.ListAsync(app, env, Manager(h, change: false), ct)));
        credentials.MapPost("", async (string app, string env, [FromBody] CreateCredentialBody? b, HttpContext h, CredentialService cr, CancellationToken ct) =>
        {
            var issued = await cr.CreateAsync(app, env, b?.Name, Manager(h), ct);
            return TypedResults.Created($"/api/v1/apps/{app}/envs/{env}/credentials/{issued.Credential.Id}", issued);
        });
        credentials.MapDelete("/{id}", async (string app, string env, string id, HttpContext h, CredentialService cr, CancellationToken ct) =>
            TypedResults.Ok(await cr.RevokeAsync(app, env, id, Manager(h), ct)));

        var envs = api.MapGroup("/apps/{app}/envs/{env}/namespaces");
        envs.MapGet("", async (string app, string env, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
        {
            var views = new List<NamespaceView>();
            foreach (var n in await c.ListNamespacesAsync(app, env, ct))
            {
                views.Add(await ViewAsync(c, n, null, h, ct));
            }

            return Items(views);
        });
        envs.MapPost("", async (string app, string env, CreateNamespaceBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/apps/{app}/envs/{env}/namespaces/{b.Name}", View(await c.CreateNamespaceAsync(app, env, b.Name, b.Format, b.Schema, b.Public, b.Secret, Who(h), ct))));

        // Secret values are masked in every answer; ?reveal=true asks for the plaintext (refused without the reveal permission).
        var ns = envs.MapGroup("/{ns}");
        ns.MapGet("", async (string app, string env, string ns, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await ViewAsync(c, await c.GetNamespaceAsync(app, env, ns, ct), reveal, h, ct)));
        ns.MapDelete("", async (string app, string env, string ns, bool? force, long? expectedRevision, HttpContext h, ConfigRemovalService r, CancellationToken ct) =>
        {
            await r.DeleteNamespaceAsync(app, env, ns, force ?? false, expectedRevision ?? 0, Who(h), ct);
            return TypedResults.NoContent();
        });
        ns.MapPost("/associate", async (string app, string env, string ns, AssociateBody b, HttpContext h, PublicNamespaceService p, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/apps/{app}/envs/{env}/namespaces/{ns}", View(await p.AssociateNamespaceAsync(app, env, ns, b.BaseApp, Who(h), ct))));
        ns.MapGet("/associations", async (string app, string env, string ns, PublicNamespaceService p, CancellationToken ct) =>
            Items((await p.AssociationsAsync(app, env, ns, ct)).Select(View)));
        ns.MapPut("/items/{key}", async (string app, string env, string ns, SetItemBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.SetItemAsync(app, env, ns, new ConfigItem(ItemKeyOf(h), b.Value ?? "", b.Comment, b.Secret), b.ExpectedRevision, Who(h), ct))));
        ns.MapDelete("/items/{key}", async (string app, string env, string ns, long? expectedRevision, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.DeleteItemAsync(app, env, ns, ItemKeyOf(h), expectedRevision ?? 0, Who(h), ct))));
        ns.MapPut("/content", async (string app, string env, string ns, SetContentBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.SetContentAsync(app, env, ns, b.Content ?? "", b.ExpectedRevision, Who(h), ct))));
        ns.MapPut("/schema", async (string app, string env, string ns, SetSchemaBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.SetSchemaAsync(app, env, ns, b.Schema, b.ExpectedRevision, Who(h), ct))));
        ns.MapGet("/permissions", async (string app, string env, string ns, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.Access.PermissionsAsync(Viewer(h), app, env, ns, ct)));
        ns.MapPut("/policy", async (string app, string env, string ns, PolicyBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.SetPolicyAsync(app, env, ns, b.SeparateEditAndRelease, b.RequireApproval, Who(h), ct))));
        ns.MapGet("/releases", async (string app, string env, string ns, int? limit, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
        {
            var views = new List<ReleaseRecord>();
            foreach (var r in await c.ListReleasesAsync(app, env, ns, limit ?? 50, ct))
            {
                views.Add(await c.ViewAsync(r, reveal ?? false, Viewer(h), ct));
            }

            return Items(views);
        });
        ns.MapPost("/releases", async Task<Results<Ok<ReleaseRecord>, Accepted<ReleaseRequest>>> (string app, string env, string ns, PublishBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
        {
            // 200 with the release, or 202 with the request filed instead when the namespace requires approval.
            var outcome = await c.PublishOrRequestAsync(app, env, ns, b.Title, b.Comment, b.ExpectedRevision, Who(h), ct);
            return outcome.Release is { } release
                ? TypedResults.Ok(NamespaceSecrets.View(release, null))
                : TypedResults.Accepted($"/api/v1/apps/{app}/envs/{env}/namespaces/{ns}/requests/{outcome.Request!.Id}", NamespaceSecrets.View(outcome.Request!));
        });
        ns.MapGet("/requests", async (string app, string env, string ns, string? status, int? limit, ConfigCenterService c, CancellationToken ct) =>
            Items((await c.ListRequestsAsync(app, env, ns, ParseStatus(status), limit ?? 50, ct)).Select(NamespaceSecrets.View)));
        ns.MapGet("/requests/{id:long}", async (string app, string env, string ns, long id, ConfigCenterService c, CancellationToken ct) =>
        {
            var (request, diff) = await c.GetRequestAsync(app, env, ns, id, ct);
            return TypedResults.Ok(new ReleaseRequestView(NamespaceSecrets.View(request), [.. diff]));
        });
        ns.MapPost("/requests/{id:long}/approve", async (string app, string env, string ns, long id, [FromBody] DecisionBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(NamespaceSecrets.View(await c.ApproveAsync(app, env, ns, id, b?.Comment, Who(h), ct), null)));
        ns.MapPost("/requests/{id:long}/reject", async (string app, string env, string ns, long id, [FromBody] DecisionBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(NamespaceSecrets.View(await c.RejectAsync(app, env, ns, id, b?.Comment, Who(h), ct))));
        ns.MapGet("/releases/latest", async (string app, string env, string ns, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.ViewAsync(await c.LatestReleaseAsync(app, env, ns, ct), reveal ?? false, Viewer(h), ct)));
        ns.MapGet("/releases/{id:long}", async (string app, string env, string ns, long id, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(await c.ViewAsync(await c.GetReleaseAsync(app, env, ns, id, ct), reveal ?? false, Viewer(h), ct)));
        ns.MapPost("/rollback", async (string app, string env, string ns, RollbackBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(NamespaceSecrets.View(await c.RollbackAsync(app, env, ns, b.ToReleaseId, b.Comment, b.ExpectedRevision, ParseEdits(b.Edits), b.IgnoreSchema, Who(h), ct), null)));
        ns.MapPost("/discard", async (string app, string env, string ns, [FromBody] GuardBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.DiscardAsync(app, env, ns, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapPost("/gray", async (string app, string env, string ns, GrayPublishBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(NamespaceSecrets.View(b.Plan is { } plan
                ? await c.StartRolloutAsync(app, env, ns, b.Rule ?? new GrayRule(), plan.ToSpec(), b.Title, b.Comment, b.ExpectedRevision, Who(h), ct)
                : await c.GrayPublishAsync(app, env, ns, b.Rule, b.Title, b.Comment, b.ExpectedRevision, Who(h), ct), null)));
        // A rollout plan (issue 22 item 2): the leader's RolloutDriver advances, halts and completes it; people pause,
        // resume, skip to a step or abort.
        ns.MapPost("/gray/plan/pause", async (string app, string env, string ns, [FromBody] GuardBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.PauseRolloutAsync(app, env, ns, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapPost("/gray/plan/resume", async (string app, string env, string ns, [FromBody] GuardBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.ResumeRolloutAsync(app, env, ns, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapPost("/gray/plan/skip", async (string app, string env, string ns, RolloutSkipBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.SkipRolloutAsync(app, env, ns, b.Step, b.ExpectedRevision, Who(h), ct))));
        ns.MapPost("/gray/plan/abort", async (string app, string env, string ns, [FromBody] RolloutAbortBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.AbortRolloutAsync(app, env, ns, b?.Reason, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapPut("/gray/rule", async (string app, string env, string ns, GrayRuleBody b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.UpdateGrayRuleAsync(app, env, ns, b.Rule, b.ExpectedRevision, Who(h), ct))));
        ns.MapPost("/gray/promote", async (string app, string env, string ns, [FromBody] GuardBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.PromoteGrayAsync(app, env, ns, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapPost("/gray/abandon", async (string app, string env, string ns, [FromBody] GuardBody? b, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            TypedResults.Ok(View(await c.AbandonGrayAsync(app, env, ns, b?.ExpectedRevision ?? 0, Who(h), ct))));
        ns.MapGet("/history", async (string app, string env, string ns, int? limit, ConfigCenterService c, CancellationToken ct) => Items(await c.HistoryAsync(app, env, ns, limit ?? 100, ct)));
        ns.MapGet("/diff", async (string app, string env, string ns, long? from, long? to, bool? reveal, HttpContext h, ConfigCenterService c, CancellationToken ct) =>
            Items(from is { } f && to is { } t
                ? await c.DiffReleasesAsync(app, env, ns, f, t, reveal ?? false, Viewer(h), ct)
                : await c.DiffWorkingCopyAsync(app, env, ns, reveal ?? false, Viewer(h), ct)));
        // The client endpoints: an app credential (or a sign-in) whenever auth is enabled or the app has one (ADR 0015).
        ns.MapGet("/effective", async (string app, string env, string ns, string? instanceId, string? labels, HttpContext h, ClientCallers callers, CredentialService cr, DeliveryService d, CancellationToken ct) =>
        {
            var access = await cr.AuthorizeAsync(callers.Of(h), app, env, [ns], ct);
            var effective = await d.FetchAsync(app, env, ns, instanceId, SplitLabels(labels), ct);
            if (NamespaceSecrets.HasSecrets(effective.Release))
            {
                await cr.AuthorizeSecretsAsync(access, app, env, ns, ct);
            }

            return TypedResults.Ok(effective);
        });
        ns.MapPost("/reports", async (string app, string env, string ns, ReportBody b, HttpContext h, ClientCallers callers, CredentialService cr, DeliveryService d, CancellationToken ct) =>
        {
            await cr.AuthorizeAsync(callers.Of(h), app, env, [ns], ct);
            return TypedResults.Ok(await d.ReportAsync(app, env, ns, b.InstanceId, b.Labels ?? [], b.ReleaseId, b.Status, b.Reason, From(h), b.FlagEvaluations ?? [], ct));
        });
        ns.MapGet("/instances", async (string app, string env, string ns, DeliveryService d, CancellationToken ct) => Items(await d.InstancesAsync(app, env, ns, ct)));
        ns.MapGet("/convergence", async (string app, string env, string ns, long? releaseId, DeliveryService d, CancellationToken ct) =>
            TypedResults.Ok(await d.ConvergenceAsync(app, env, ns, releaseId ?? 0, ct)));
        // Evaluation insight of a flags namespace: variants served by the live fleet, and flags nobody evaluates any more.
        ns.MapGet("/flags/usage", async (string app, string env, string ns, int? staleDays, DeliveryService d, CancellationToken ct) =>
            TypedResults.Ok(await d.FlagUsageAsync(app, env, ns, staleDays ?? 7, ct)));

        ConfigConsoleApi.Map(api);
    }

    // Answers to changes mask secrets: the editor sent the plaintext, and reading it back is a reveal.
    private static NamespaceView View(NamespaceRecord n) => NamespaceView.Of(NamespaceSecrets.View(n, null));

    private static async Task<NamespaceView> ViewAsync(ConfigCenterService c, NamespaceRecord n, bool? reveal, HttpContext h, CancellationToken ct) =>
        NamespaceView.Of(await c.ViewAsync(n, reveal ?? false, Viewer(h), ct));

    /// <summary>
    /// A list answer as an array: arrays are sealed, so the body is written by the declared type's compile-time
    /// metadata (<see cref="Http.HttpJsonContext"/> lists <c>T[]</c>), whatever collection the service built.
    /// </summary>
    private static Ok<T[]> Items<T>(IEnumerable<T> items) => TypedResults.Ok(items as T[] ?? [.. items]);

    /// <summary>
    /// Who makes a change (ADR 0015). With auth enabled: the signed-in user, with the auth store's roles, checked by the
    /// center (the author header is ignored). With auth disabled: whoever the author header names, unchecked.
    /// </summary>
    internal static ChangeContext Who(HttpContext h)
    {
        if (Security.Auth.HttpSignIn.IsSignedIn(h))
        {
            return Viewer(h);
        }

        if (h.RequestServices.GetRequiredService<Node.ConclaveNode>().Store.Auth.Enabled)
        {
            // Only reachable if a route escaped the sign-in middleware: never fall back to a declared author then.
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, "sign in: auth is enabled on this member");
        }

        var author = h.Request.Headers[AuthorHeader].ToString();
        if (string.IsNullOrWhiteSpace(author))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the {AuthorHeader} header is required on changes: it names who makes them");
        }

        return new ChangeContext(author, From(h)) { RequestId = RequestIdOf(h) };
    }

    /// <summary>The caller as the center sees it, for reads too (no author needed): unchecked while auth is disabled.</summary>
    internal static ChangeContext Viewer(HttpContext h)
    {
        if (!Security.Auth.HttpSignIn.IsSignedIn(h))
        {
            return new ChangeContext(h.Request.Headers[AuthorHeader].ToString(), From(h)) { RequestId = RequestIdOf(h) };
        }

        // A local user's roles come from the auth store; an OpenID Connect session's from the provider's groups, and it is
        // never root (its name matches no auth-store user: docs/security.md).
        var name = Security.Auth.HttpSignIn.UserOf(h);
        var oidc = Security.Auth.HttpSignIn.ProviderOf(h) == Security.Auth.SessionIdentity.Oidc;
        var user = oidc ? null : h.RequestServices.GetRequiredService<Node.ConclaveNode>().Store.Auth.FindUser(name);
        return new ChangeContext(name, From(h))
        {
            Enforced = true,
            IsAdmin = user?.HasRootRole == true,
            Roles = oidc ? Security.Auth.HttpSignIn.RolesOf(h) : user is null ? [] : [.. user.Roles],
            RequestId = RequestIdOf(h),
        };
    }

    /// <summary>
    /// The item key of <c>.../items/{key}</c> exactly as the editor wrote it: the last segment of the request target as
    /// sent, unescaped once. The route value cannot be used: Kestrel decodes every escape of the path but <c>%2F</c>, so
    /// <c>a/b</c> arrived as <c>a%2Fb</c> (and was stored so), and a key spelled <c>a%2Fb</c> would arrive the same way.
    /// </summary>
    internal static string ItemKeyOf(HttpContext h)
    {
        var target = h.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw ? raw : h.Request.Path.Value ?? "";
        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? target : target[..query];
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }

    /// <summary>The caller's <c>X-Request-Id</c> when it is a short printable token, else the member's own id for the request.</summary>
    private static string RequestIdOf(HttpContext h) =>
        h.Request.Headers["X-Request-Id"].ToString() is { Length: > 0 and <= 128 } id && id.All(static c => c is > ' ' and <= '~') ? id : h.TraceIdentifier;

    private static RollbackEdits ParseEdits(string? text) => text switch
    {
        null or "" or "refuse" => RollbackEdits.Refuse,
        "discard" => RollbackEdits.Discard,
        "keep" => RollbackEdits.Keep,
        _ => throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"edits '{text}' is not one of refuse, discard, keep"),
    };

    private static ReleaseRequestStatus? ParseStatus(string? text) =>
        string.IsNullOrEmpty(text) ? null
        : Enum.TryParse<ReleaseRequestStatus>(text, ignoreCase: true, out var status) && Enum.IsDefined(status) ? status
        : throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"status '{text}' is not one of pending, approved, rejected");

    private static ConfigPermission ParsePermission(string text) =>
        Enum.TryParse<ConfigPermission>(text, ignoreCase: true, out var p) && Enum.IsDefined(p)
            ? p
            : throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"permission '{text}' is not one of edit, release, reveal");

    /// <summary>The actor of a credential call (ADR 0015): a change names its author; a list needs none while auth is disabled.</summary>
    private static ChangeContext Manager(HttpContext h, bool change = true) => change ? Who(h) : Viewer(h);

    private static string? From(HttpContext h) => h.Connection.RemoteIpAddress is { } ip ? $"{ip}:{h.Connection.RemotePort}" : null;

    private static string[] SplitLabels(string? labels) =>
        string.IsNullOrWhiteSpace(labels) ? [] : labels.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

using Conclave.ConfigCenter.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Config;

/// <summary>
/// <c>/api/v1/apps/{app}/webhooks</c> (ADR 0016): the app's managers create (the answer carries the secret, once), list,
/// read, delete, ping, and read and redeliver the delivery log. Mapped inside the <c>/api/v1</c> group, so refusals are
/// the same problem details as the rest of the center's API.
/// </summary>
internal static class WebhookHttpApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        var hooks = api.MapGroup("/apps/{app}/webhooks");
        hooks.MapGet("", async (string app, HttpContext h, WebhookService w, CancellationToken ct) =>
            TypedResults.Ok((await w.ListAsync(app, ConfigHttpApi.Viewer(h), ct)).ToArray()));
        hooks.MapPost("", async (string app, CreateWebhookBody b, HttpContext h, WebhookService w, CancellationToken ct) =>
        {
            var issued = await w.CreateAsync(app, b.Url, b.Env, b.Namespace, b.Events, b.Description, ConfigHttpApi.Who(h), ct);
            return TypedResults.Created($"/api/v1/apps/{app}/webhooks/{issued.Webhook.Id}", issued);
        });
        hooks.MapGet("/{id}", async (string app, string id, HttpContext h, WebhookService w, CancellationToken ct) =>
            TypedResults.Ok(await w.GetAsync(app, id, ConfigHttpApi.Viewer(h), ct)));
        hooks.MapDelete("/{id}", async (string app, string id, HttpContext h, WebhookService w, CancellationToken ct) =>
        {
            await w.DeleteAsync(app, id, ConfigHttpApi.Who(h), ct);
            return TypedResults.NoContent();
        });
        hooks.MapPost("/{id}/ping", async (string app, string id, HttpContext h, WebhookService w, CancellationToken ct) =>
            TypedResults.Accepted($"/api/v1/apps/{app}/webhooks/{id}/deliveries", await w.PingAsync(app, id, ConfigHttpApi.Who(h), ct)));
        hooks.MapGet("/{id}/deliveries", async (string app, string id, int? limit, HttpContext h, WebhookService w, CancellationToken ct) =>
            TypedResults.Ok((await w.DeliveriesAsync(app, id, limit ?? WebhookService.MaxDeliveriesKept, ConfigHttpApi.Viewer(h), ct)).ToArray()));
        hooks.MapPost("/{id}/deliveries/{eventId}/redeliver", async (string app, string id, string eventId, HttpContext h, WebhookService w, CancellationToken ct) =>
            TypedResults.Accepted($"/api/v1/apps/{app}/webhooks/{id}/deliveries", await w.RedeliverAsync(app, id, eventId, ConfigHttpApi.Who(h), ct)));
    }
}

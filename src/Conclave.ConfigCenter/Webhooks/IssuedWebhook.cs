namespace Conclave.ConfigCenter.Webhooks;

/// <summary>A webhook just created, with its signing secret: the only time the secret is shown.</summary>
public sealed record IssuedWebhook(WebhookView Webhook, string Secret);

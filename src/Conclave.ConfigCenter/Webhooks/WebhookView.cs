namespace Conclave.ConfigCenter.Webhooks;

/// <summary>A webhook as it is shown: never its secret, only the secret's last characters.</summary>
public sealed record WebhookView(
    string App, string Id, string Url, string? Env, string? Namespace, IReadOnlyList<string> Events, string Description,
    string SecretHint, DateTimeOffset CreatedAt, string CreatedBy)
{
    public static WebhookView Of(Webhook w) =>
        new(w.App, w.Id, w.Url, w.Env, w.Namespace, w.Events.Count == 0 ? WebhookEvents.Default : w.Events, w.Description, "..." + w.Hint, w.CreatedAt, w.CreatedBy);
}

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>What one attempt found: the HTTP status (null when no answer came) and, unless it was 2xx, why it failed.</summary>
public sealed record WebhookAttempt(int? Status, string? Error)
{
    public bool Succeeded => Status is >= 200 and < 300;
}

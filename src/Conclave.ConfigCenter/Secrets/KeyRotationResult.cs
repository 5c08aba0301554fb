namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// What <c>conclave config keys rotate</c> did: how many data keys it re-wrapped under <see cref="MasterKeyId"/>, how many
/// were already under it, the same for webhook signing secrets, and the namespaces and webhooks whose keys or secrets
/// it could not open (each with the reason). Once <see cref="Failed"/> is empty on a run, older master keys can be
/// removed from every member.
/// </summary>
public sealed record KeyRotationResult(string MasterKeyId, int Rewrapped, int AlreadyCurrent, IReadOnlyList<string> Failed)
{
    /// <summary>Webhook signing secrets re-wrapped under <see cref="MasterKeyId"/>.</summary>
    public int WebhookSecretsRewrapped { get; init; }

    /// <summary>Webhook signing secrets already wrapped under <see cref="MasterKeyId"/>.</summary>
    public int WebhookSecretsAlreadyCurrent { get; init; }
}

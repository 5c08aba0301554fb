namespace Conclave.ConfigCenter.Webhooks;

/// <summary>The dispatcher's position: the last audit revision turned into deliveries, and the cursor record's own revision (its fence).</summary>
public readonly record struct WebhookCursor(long Revision, long ModRevision);

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>Another dispatcher (a member that led before, or leads now) advanced the cursor: read it again and go on from there.</summary>
public sealed class WebhookCursorMovedException() : Exception("the webhook cursor was advanced by another dispatcher");

namespace Conclave.Server.Config;

/// <summary>A webhook target this member refuses to connect to (a private address while private targets are refused).</summary>
public sealed class WebhookTargetRefusedException(string message) : Exception(message);

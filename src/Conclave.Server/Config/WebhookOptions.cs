using Conclave.ConfigCenter.Webhooks;

namespace Conclave.Server.Config;

/// <summary>How this member sends webhook requests while it leads (ADR 0016).</summary>
public sealed record WebhookOptions
{
    /// <summary>Back-off and attempts of failed deliveries.</summary>
    public WebhookRetry Retry { get; init; } = new();

    /// <summary>One attempt's whole time: connect, send, and the answer's status line and headers.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Refuse to connect to loopback, private (RFC 1918, RFC 4193), link-local (cloud metadata at 169.254.169.254),
    /// carrier-grade NAT and unspecified addresses (<c>--webhook-refuse-private-targets</c>). Checked on the address each
    /// connection actually uses, so a name that resolves elsewhere later is caught too. Off by default.
    /// </summary>
    public bool RefusePrivateTargets { get; init; }

    /// <summary>Deliveries sent at once.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>How often the leader looks for due deliveries when nothing wakes it sooner.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
}

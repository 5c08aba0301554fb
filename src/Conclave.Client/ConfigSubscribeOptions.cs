namespace Conclave.Client;

/// <summary>Settings of one configuration subscription (<see cref="ConclaveClient.SubscribeConfigAsync"/>).</summary>
public sealed record ConfigSubscribeOptions
{
    /// <summary>
    /// Namespace -> the release id the caller runs now. The server sends at once every namespace whose effective
    /// release differs; absent namespaces are sent if they have a release.
    /// </summary>
    public IReadOnlyDictionary<string, long> LastSeen { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// Called with <c>true</c> when a member has answered and the stream is open, and with <c>false</c> when the
    /// stream broke and the client is reconnecting (possibly to another member). Called on the enumerating task;
    /// keep it short.
    /// </summary>
    public Action<bool>? ConnectionChanged { get; init; }

    /// <summary>First delay before reconnecting; doubles per failure, with jitter. Null: <see cref="ConclaveClientOptions.RetryBaseDelay"/>.</summary>
    public TimeSpan? ReconnectBaseDelay { get; init; }

    /// <summary>Longest delay between reconnect attempts. Null: <see cref="ConclaveClientOptions.RetryMaxDelay"/>.</summary>
    public TimeSpan? ReconnectMaxDelay { get; init; }
}

namespace Conclave.Extensions.Configuration;

/// <summary>A snapshot of a Conclave provider's state, for health checks and diagnostics.</summary>
/// <param name="Origin">Where the current values came from.</param>
/// <param name="Connected">Whether the live subscription is connected to a member right now.</param>
/// <param name="Releases">Namespace -> the release id applied.</param>
/// <param name="LastError">The last failure talking to the service, if any since the last success.</param>
/// <param name="LastRejection">The last release refused by validation (<c>namespace#id: reason</c>), if any.</param>
public sealed record ConclaveConfigurationStatus(
    ConclaveConfigurationOrigin Origin,
    bool Connected,
    IReadOnlyDictionary<string, long> Releases,
    string? LastError,
    string? LastRejection)
{
    /// <summary>
    /// The service refused this instance's access key (revoked, unknown, or not this app's): the values are the last
    /// known good ones, and the provider keeps checking (with back-off) until the key is accepted again.
    /// </summary>
    public bool AccessRefused { get; init; }
}

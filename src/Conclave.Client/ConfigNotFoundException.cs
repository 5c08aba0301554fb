using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// The configuration center does not know the app, environment or namespace asked for, or (with
/// <see cref="IsNoRelease"/>) the namespace exists but nothing has been released to it yet. A network failure is
/// never this exception.
/// </summary>
public sealed class ConfigNotFoundException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="isNoRelease">Whether the namespace exists but has no release yet.</param>
    /// <param name="serverMessage">The server's explanation, e.g. <c>orders/PRO/application has no release yet</c>.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public ConfigNotFoundException(bool isNoRelease, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"Configuration center at {endpoint ?? "unknown"}: {serverMessage}", StatusCode.NotFound, serverMessage, endpoint, innerException)
    {
        IsNoRelease = isNoRelease;
    }

    /// <summary>Whether the namespace exists but nothing has been released to it yet.</summary>
    public bool IsNoRelease { get; }
}

using System.Net.Security;
using System.Security.Authentication;

namespace Conclave.Server.Security;

/// <summary>
/// TLS for the client-facing listeners (gRPC and HTTP), with etcd's flags: <c>--cert-file</c>, <c>--key-file</c>,
/// <c>--trusted-ca-file</c>, <c>--client-cert-auth</c>, <c>--tls-min-version</c>, <c>--cipher-suites</c>. A listener
/// serves TLS when its URL is <c>https://</c>, as in etcd.
/// </summary>
public sealed record TlsSettings
{
    /// <summary>The member's certificate, PEM (<c>--cert-file</c>); reloaded when the file changes.</summary>
    public string? CertFile { get; init; }

    /// <summary>Its private key, PEM (<c>--key-file</c>); reloaded with the certificate.</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// CA certificates, PEM, that client certificates must chain to (<c>--trusted-ca-file</c>). Without
    /// <see cref="ClientCertAuth"/> a client certificate is optional, and checked when one is offered.
    /// </summary>
    public string? TrustedCaFile { get; init; }

    /// <summary>Every client must present a certificate that chains to <see cref="TrustedCaFile"/> (<c>--client-cert-auth</c>).</summary>
    public bool ClientCertAuth { get; init; }

    /// <summary>The oldest TLS version accepted (<c>--tls-min-version</c>: <c>TLS1.2</c>, the default, or <c>TLS1.3</c>).</summary>
    public SslProtocols MinVersion { get; init; } = SslProtocols.Tls12;

    /// <summary>
    /// The TLS 1.2 cipher suites offered (<c>--cipher-suites</c>, IANA names as etcd takes them), or null for the
    /// platform's secure defaults. TLS 1.3's suites are always the standard ones.
    /// </summary>
    public IReadOnlyList<TlsCipherSuite>? CipherSuites { get; init; }

    /// <summary>Whether a certificate is configured (both files).</summary>
    public bool HasCertificate => !string.IsNullOrEmpty(CertFile) && !string.IsNullOrEmpty(KeyFile);

    /// <summary>The versions from <see cref="MinVersion"/> up.</summary>
    public SslProtocols Protocols => MinVersion == SslProtocols.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>Reads <c>--tls-min-version</c>.</summary>
    /// <exception cref="ArgumentException">Not a version this member accepts.</exception>
    public static SslProtocols ParseMinVersion(string? text) => text?.Trim().ToUpperInvariant() switch
    {
        null or "" or "TLS1.2" => SslProtocols.Tls12,
        "TLS1.3" => SslProtocols.Tls13,
        _ => throw new ArgumentException($"--tls-min-version '{text}': use TLS1.2 or TLS1.3 (older versions are not accepted)"),
    };

    /// <summary>Reads <c>--cipher-suites</c> (comma separated IANA names, e.g. <c>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</c>).</summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static IReadOnlyList<TlsCipherSuite>? ParseCipherSuites(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var suites = new List<TlsCipherSuite>();
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<TlsCipherSuite>(name, ignoreCase: false, out var suite) || !name.StartsWith("TLS_", StringComparison.Ordinal))
            {
                throw new ArgumentException($"--cipher-suites: '{name}' is not a TLS cipher suite name (IANA names, as etcd takes them)");
            }

            suites.Add(suite);
        }

        return suites;
    }
}

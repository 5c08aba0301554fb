using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Conclave.Cluster.Peers;

/// <summary>
/// TLS between members (etcd's <c>--peer-cert-file</c>, <c>--peer-key-file</c>, <c>--peer-trusted-ca-file</c>,
/// <c>--peer-client-cert-auth</c>): with it, every connection on the peer listener and every connection this member opens
/// to another member's (Raft, the request channel, snapshot fetches) runs over TLS before its preamble. The host supplies
/// the certificate and the trust, reloaded as their files change; this layer does the handshakes.
/// </summary>
/// <remarks>
/// The connecting member presents <see cref="Certificate"/> too (member certificates carry both server and client
/// authentication, as etcd's peer certificates do), and checks the listener's: it must pass
/// <see cref="CheckServerCertificate"/> and name the host or address of the peer URL dialled.
/// </remarks>
public sealed class PeerTls
{
    private readonly Lock gate = new();
    private X509Certificate2? contextCertificate;
    private SslStreamCertificateContext? context;
    private CipherSuitesPolicy? cipherSuitesPolicy;
    private bool cipherSuitesPolicyMade;

    /// <summary>
    /// The certificate (with its private key) this member presents, as listener and as connecting member. Asked for on
    /// every new connection, so a replaced certificate reaches new connections while open ones keep theirs.
    /// </summary>
    public required Func<X509Certificate2> Certificate { get; init; }

    /// <summary>
    /// Checks the certificate a listener presented to this member: null when it chains to a trusted CA and may
    /// authenticate a server, otherwise why not. (That it names the host dialled is checked here.)
    /// </summary>
    public required Func<X509Certificate2, string?> CheckServerCertificate { get; init; }

    /// <summary>
    /// Checks the certificate a connecting member presented: null when it chains to a trusted CA and may authenticate
    /// a client, otherwise why not. Asked only with <see cref="ClientCertificateRequired"/>.
    /// </summary>
    public required Func<X509Certificate2, string?> CheckClientCertificate { get; init; }

    /// <summary>
    /// Every connecting member must present a certificate that passes <see cref="CheckClientCertificate"/>
    /// (<c>--peer-client-cert-auth</c>). Without it the listener asks for none, as etcd's: anyone who reaches the peer
    /// port and completes a TLS handshake can speak Raft.
    /// </summary>
    public bool ClientCertificateRequired { get; init; }

    /// <summary>TLS versions accepted and offered (<c>--tls-min-version</c>, shared with the client listeners as in etcd).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>TLS 1.2 cipher suites (<c>--cipher-suites</c>), or null for the platform's secure defaults.</summary>
    public IReadOnlyList<TlsCipherSuite>? CipherSuites { get; init; }

    /// <summary>
    /// Runs the listener's side of the handshake on an accepted connection. The returned stream owns
    /// <paramref name="inner"/>; on failure <paramref name="inner"/> is disposed.
    /// </summary>
    /// <exception cref="PeerTlsException">The handshake failed or the connecting member's certificate was refused.</exception>
    internal async Task<SslStream> AcceptAsync(Stream inner, CancellationToken cancellationToken)
    {
        string? refusal = null;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = CurrentContext(),
            ClientCertificateRequired = ClientCertificateRequired,
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CipherSuitesPolicy = CipherSuitesPolicy(),
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (!ClientCertificateRequired)
                {
                    return true;
                }

                refusal = certificate is null
                    ? "it presented no certificate (--peer-client-cert-auth requires one from --peer-trusted-ca-file)"
                    : CheckClientCertificate(AsCertificate2(certificate)) is { } why ? $"its certificate {certificate.Subject} is not trusted: {why}" : null;
                return refusal is null;
            },
        };
        return await AuthenticateAsync(inner, (ssl, ct) => ssl.AuthenticateAsServerAsync(options, ct), () => refusal, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the connecting member's side of the handshake with the listener at <paramref name="host"/> (the host or
    /// address of its peer URL, which the listener's certificate must name). The returned stream owns
    /// <paramref name="inner"/>; on failure <paramref name="inner"/> is disposed.
    /// </summary>
    /// <exception cref="PeerTlsException">The handshake failed or the listener's certificate was refused.</exception>
    internal async Task<SslStream> ConnectAsync(Stream inner, string host, CancellationToken cancellationToken)
    {
        string? refusal = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            ClientCertificateContext = CurrentContext(),
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CipherSuitesPolicy = CipherSuitesPolicy(),
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                refusal = certificate is null ? "it presented no certificate"
                    : (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 ? $"its certificate {certificate.Subject} does not name {host} (subject alternative names)"
                    : CheckServerCertificate(AsCertificate2(certificate)) is { } why ? $"its certificate {certificate.Subject} is not trusted: {why}"
                    : null;
                return refusal is null;
            },
        };
        return await AuthenticateAsync(inner, (ssl, ct) => ssl.AuthenticateAsClientAsync(options, ct), () => refusal, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<SslStream> AuthenticateAsync(Stream inner, Func<SslStream, CancellationToken, Task> handshake, Func<string?> refusal, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await handshake(ssl, cancellationToken).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or System.ComponentModel.Win32Exception)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var why = refusal();
            throw new PeerTlsException(why ?? $"TLS handshake failed: {Innermost(e)}", certificateRefused: why is not null, e);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The certificate to present, with its chain, made once per certificate (building the chain costs a few ms).</summary>
    private SslStreamCertificateContext CurrentContext()
    {
        var certificate = Certificate();
        lock (gate)
        {
            if (!ReferenceEquals(certificate, contextCertificate))
            {
                context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
                contextCertificate = certificate;
            }

            return context!;
        }
    }

    private CipherSuitesPolicy? CipherSuitesPolicy()
    {
        if (CipherSuites is null)
        {
            return null;
        }

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("--cipher-suites is not supported on Windows (its TLS stack takes the system's policy)");
        }

        lock (gate)
        {
            if (!cipherSuitesPolicyMade)
            {
                cipherSuitesPolicy = new CipherSuitesPolicy(CipherSuites);
                cipherSuitesPolicyMade = true;
            }

            return cipherSuitesPolicy;
        }
    }

    private static X509Certificate2 AsCertificate2(X509Certificate certificate) =>
        certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());

    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }

        return e.Message;
    }
}

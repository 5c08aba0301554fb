using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Conclave.Bench;

/// <summary>
/// <c>--cacert</c>, <c>--cert</c>, <c>--cert-key</c> (etcdctl's <c>--cacert</c>, <c>--cert</c>, <c>--key</c>): TLS
/// toward every endpoint, the servers' certificates checked against the CA (custom root trust, or the system's CAs
/// without <c>--cacert</c>), and an optional client certificate. The files are read once, when the options are parsed.
/// </summary>
internal sealed class BenchTls
{
    private readonly X509Certificate2Collection? _trusted;
    private readonly X509Certificate2? _clientCertificate;

    private BenchTls(string? caFile, string? certFile, string? keyFile, X509Certificate2Collection? trusted, X509Certificate2? clientCertificate)
    {
        CaFile = caFile;
        CertFile = certFile;
        KeyFile = keyFile;
        _trusted = trusted;
        _clientCertificate = clientCertificate;
    }

    /// <summary>The files, for clients that load them themselves (the grpc-dotnet preflight).</summary>
    public string? CaFile { get; }

    public string? CertFile { get; }

    public string? KeyFile { get; }

    /// <exception cref="ArgumentException">A file does not load, or only one of the certificate and its key is given.</exception>
    public static BenchTls Load(string? caFile, string? certFile, string? keyFile)
    {
        if (string.IsNullOrEmpty(certFile) != string.IsNullOrEmpty(keyFile))
        {
            throw new ArgumentException("--cert and --cert-key go together: a client certificate needs its key.");
        }

        try
        {
            X509Certificate2Collection? trusted = null;
            if (!string.IsNullOrEmpty(caFile))
            {
                trusted = [];
                trusted.ImportFromPemFile(caFile);
                if (trusted.Count == 0)
                {
                    throw new ArgumentException($"--cacert {caFile} holds no PEM certificate.");
                }
            }

            X509Certificate2? client = null;
            if (!string.IsNullOrEmpty(certFile))
            {
                // A PEM key is ephemeral; TLS on Linux wants the certificate with a key it can keep (PKCS#12 round trip).
                using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
                client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
            }

            return new BenchTls(caFile, certFile, keyFile, trusted, client);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--cacert/--cert/--cert-key do not load: {e.Message}", e);
        }
    }

    /// <summary>
    /// Options for one handshake: TLS 1.2 or 1.3, ALPN h2, the server's certificate chained to the CA and naming
    /// <paramref name="targetHost"/> (null: grpc-dotnet's handler fills it in).
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(string? targetHost)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        };
        if (_trusted is not null)
        {
            options.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(_trusted);
        }

        if (_clientCertificate is not null)
        {
            options.ClientCertificates = [_clientCertificate];
        }

        return options;
    }
}

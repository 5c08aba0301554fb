using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Conclave.Client.Internal;

/// <summary>TLS toward <c>https://</c> members: trust from <see cref="ConclaveClientOptions.CaFile"/>, and an optional client certificate.</summary>
internal static class ClientTls
{
    /// <exception cref="ArgumentException">A file does not load (the message says which and why).</exception>
    public static SslClientAuthenticationOptions For(ConclaveClientOptions options)
    {
        var ssl = new SslClientAuthenticationOptions();
        try
        {
            if (!string.IsNullOrEmpty(options.CaFile))
            {
                var trusted = new X509Certificate2Collection();
                trusted.ImportFromPemFile(options.CaFile);
                if (trusted.Count == 0)
                {
                    throw new ArgumentException($"{options.CaFile} holds no PEM certificate");
                }

                ssl.CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = X509RevocationMode.NoCheck,
                };
                ssl.CertificateChainPolicy.CustomTrustStore.AddRange(trusted);
            }

            if (!string.IsNullOrEmpty(options.CertFile) != !string.IsNullOrEmpty(options.KeyFile))
            {
                throw new ArgumentException("a client certificate needs both its certificate file and its key file (--cert and --key)");
            }

            if (!string.IsNullOrEmpty(options.CertFile))
            {
                using var pem = X509Certificate2.CreateFromPemFile(options.CertFile, options.KeyFile);
                ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null)];
            }
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"the TLS files do not load: {e.Message}", e);
        }

        return ssl;
    }
}

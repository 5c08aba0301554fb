using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Conclave.Testing;

/// <summary>
/// Real X.509 certificates for TLS tests, written as PEM files in a temporary folder: a CA, member (server)
/// certificates for 127.0.0.1 and localhost signed by it, client certificates (the common name is the user), and a
/// second CA nobody trusts.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly TempDirectory directory = TempDirectory.Create("conclave-certs-");
    private readonly X509Certificate2 ca;
    private readonly X509Certificate2 stranger;
    private int issued;

    public TestCertificates()
    {
        ca = CreateAuthority("Conclave test CA");
        stranger = CreateAuthority("Someone else's CA");
        CaFile = Write("ca.crt", ca.ExportCertificatePem());
        Write("stranger-ca.crt", stranger.ExportCertificatePem());
    }

    /// <summary>The CA's certificate (PEM): what clients and members trust.</summary>
    public string CaFile { get; }

    public string Folder => directory.Path;

    /// <summary>
    /// A member certificate (server and client authentication) for 127.0.0.1, ::1 and localhost, or for
    /// <paramref name="hosts"/> (names and addresses) when given.
    /// </summary>
    public (string Cert, string Key, X509Certificate2 Certificate) IssueMember(string name = "member", IReadOnlyList<string>? hosts = null) =>
        Issue(ca, name, server: true, hosts);

    /// <summary>A member certificate (server and client authentication, 127.0.0.1 and localhost) from a CA nobody trusts.</summary>
    public (string Cert, string Key, X509Certificate2 Certificate) IssueUntrustedMember(string name) => Issue(stranger, name, server: true);

    /// <summary>A client certificate whose common name is <paramref name="user"/>.</summary>
    public (string Cert, string Key, X509Certificate2 Certificate) IssueClient(string user) => Issue(ca, user, server: false);

    /// <summary>A client certificate from a CA nobody trusts.</summary>
    public (string Cert, string Key, X509Certificate2 Certificate) IssueUntrustedClient(string user) => Issue(stranger, user, server: false);

    public void Dispose()
    {
        ca.Dispose();
        stranger.Dispose();
        directory.Dispose();
    }

    private (string Cert, string Key, X509Certificate2 Certificate) Issue(X509Certificate2 issuer, string name, bool server, IReadOnlyList<string>? hosts = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") };
        if (server)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.1"));
            var names = new SubjectAlternativeNameBuilder();
            foreach (var host in hosts ?? ["127.0.0.1", "::1", "localhost"])
            {
                if (IPAddress.TryParse(host, out var address))
                {
                    names.AddIpAddress(address);
                }
                else
                {
                    names.AddDnsName(host);
                }
            }

            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        using var signed = request.Create(issuer, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30), serial);
        var n = Interlocked.Increment(ref issued);
        var cert = Write($"{name}-{n}.crt", signed.ExportCertificatePem());
        var keyFile = Write($"{name}-{n}.key", key.ExportPkcs8PrivateKeyPem());
        return (cert, keyFile, X509CertificateLoader.LoadCertificate(signed.RawData));
    }

    private static X509Certificate2 CreateAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    private string Write(string name, string pem)
    {
        var path = directory.Combine(name);
        File.WriteAllText(path, pem);
        return path;
    }
}

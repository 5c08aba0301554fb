using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Conclave.Cli.Commands.Certs;

/// <summary>
/// A certificate authority kept in a folder (<c>ca.crt</c>, <c>ca.key</c>) that signs member and client certificates,
/// so a cluster can run with TLS and client-certificate authentication without an outside PKI. Keys are ECDSA P-256
/// (what etcd's and Kubernetes' tooling generate by default), written as PKCS#8 PEM readable by the owner only.
/// </summary>
internal sealed partial class LocalCertificateAuthority : IDisposable
{
    public const string CertificateFile = "ca.crt";
    public const string KeyFile = "ca.key";

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 certificate;

    private LocalCertificateAuthority(string directory, X509Certificate2 certificate)
    {
        Directory = directory;
        this.certificate = certificate;
    }

    public string Directory { get; }

    public X509Certificate2 Certificate => certificate;

    /// <summary>Creates a new CA in <paramref name="directory"/>; refuses to replace one unless <paramref name="replace"/>.</summary>
    public static LocalCertificateAuthority Create(string directory, string commonName, TimeSpan validity, TimeProvider time, bool replace)
    {
        var keyPath = Path.Combine(directory, KeyFile);
        if (!replace && (File.Exists(keyPath) || File.Exists(Path.Combine(directory, CertificateFile))))
        {
            throw new CertificateFileException(
                $"{keyPath} already exists: a new CA would not be trusted by anything its certificates are used with. Pass --force to replace it.");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = time.GetUtcNow();
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(validity));
        PrivateDirectory(directory);
        WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(directory, CertificateFile), certificate.ExportCertificatePem());
        return new LocalCertificateAuthority(directory, certificate);
    }

    /// <summary>Opens the CA in <paramref name="directory"/>, made earlier by <see cref="Create"/>.</summary>
    public static LocalCertificateAuthority Open(string directory)
    {
        var certificatePath = Path.Combine(directory, CertificateFile);
        var keyPath = Path.Combine(directory, KeyFile);
        if (!File.Exists(certificatePath) || !File.Exists(keyPath))
        {
            throw new CertificateFileException($"no CA in {directory} ({CertificateFile} and {KeyFile}): run 'conclave certs init --dir {directory}' first.");
        }

        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            {
                certificate.Dispose();
                throw new CertificateFileException($"{certificatePath} is not a CA certificate.");
            }

            return new LocalCertificateAuthority(directory, certificate);
        }
        catch (CryptographicException e)
        {
            throw new CertificateFileException($"cannot read the CA in {directory}: {e.Message}");
        }
    }

    /// <summary>
    /// A member's certificate: it serves the client, HTTP and peer listeners (server authentication for the names and
    /// addresses in <paramref name="hosts"/>) and authenticates the member to its peers (client authentication), as
    /// etcd's peer certificates do.
    /// </summary>
    public IssuedCertificate IssueMember(string name, IReadOnlyList<string> hosts, TimeSpan validity, TimeProvider time)
    {
        if (hosts.Count == 0)
        {
            throw new CertificateFileException("a member certificate needs at least one host name or address (--hosts).");
        }

        return Issue(name, hosts, [ServerAuth, ClientAuth], validity, time);
    }

    /// <summary>A client's certificate; its common name is the user name a member with --client-cert-auth sees.</summary>
    public IssuedCertificate IssueClient(string user, TimeSpan validity, TimeProvider time) => Issue(user, [], [ClientAuth], validity, time);

    private IssuedCertificate Issue(string name, IReadOnlyList<string> hosts, Oid[] usages, TimeSpan validity, TimeProvider time)
    {
        if (!FileName().IsMatch(name))
        {
            throw new CertificateFileException(
                $"'{name}' cannot name a certificate: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.");
        }

        var now = time.GetUtcNow();
        var notAfter = now.Add(validity);
        if (notAfter > certificate.NotAfter)
        {
            notAfter = certificate.NotAfter; // a certificate cannot outlive its issuer
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (hosts.Count > 0)
        {
            var names = new SubjectAlternativeNameBuilder();
            foreach (var host in hosts)
            {
                if (IPAddress.TryParse(host, out var address))
                {
                    names.AddIpAddress(address);
                }
                else if (Uri.CheckHostName(host) == UriHostNameType.Dns)
                {
                    names.AddDnsName(host);
                }
                else
                {
                    throw new CertificateFileException($"'{host}' is neither a DNS name nor an IP address.");
                }
            }

            request.CertificateExtensions.Add(names.Build(critical: false));
        }

        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F; // positive, as RFC 5280 requires
        using var issued = request.Create(certificate, now.AddMinutes(-5), notAfter, serial);
        var certificatePath = Path.Combine(Directory, $"{name}.crt");
        var keyPath = Path.Combine(Directory, $"{name}.key");
        WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath, issued.ExportCertificatePem());
        return new IssuedCertificate(certificatePath, keyPath, issued.NotAfter.ToUniversalTime());
    }

    public void Dispose() => certificate.Dispose();

    private static void PrivateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
            return;
        }

        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Writes a private key readable by its owner only, from the moment the file exists (no window at 0644).</summary>
    private static void WritePrivate(string path, string pem)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        if (File.Exists(path))
        {
            File.Delete(path); // UnixCreateMode applies only to a new file
        }

        using var stream = new StreamWriter(path, options);
        stream.Write(pem);
    }

    /// <summary>Escapes the characters that would change a distinguished name's structure (RFC 4514).</summary>
    private static string Escape(string value) => DistinguishedNameSpecial().Replace(value, @"\$0");

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    private static partial Regex FileName();

    [GeneratedRegex(@"[,+""\\<>;=#]")]
    private static partial Regex DistinguishedNameSpecial();
}

/// <summary>Where an issued certificate and its key were written, and until when it is valid.</summary>
internal sealed record IssuedCertificate(string CertificatePath, string KeyPath, DateTime NotAfter);

/// <summary>A refusal with a message for the user (missing CA, bad name, existing files).</summary>
internal sealed class CertificateFileException(string message) : Exception(message);

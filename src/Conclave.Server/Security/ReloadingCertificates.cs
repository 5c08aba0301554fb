using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Security;

/// <summary>
/// A certificate and the CAs trusted for the other side's, read from PEM files and read again when the files change;
/// one per listener kind: the client and HTTP listeners' (<c>--cert-file</c>, <c>--trusted-ca-file</c>) and the peer
/// listener's and peer connections' (<c>--peer-cert-file</c>, <c>--peer-trusted-ca-file</c>, <see cref="ForPeers"/>).
/// A handshake reads the (small) files at most once per <see cref="CheckEvery"/> and compares their bytes
/// (timestamps and sizes do not tell: a copy keeps its source's time, certificates of one kind have one size, and a
/// mounted secret is swapped by a symbolic link), so a rotated certificate is served to new connections within a second,
/// without a restart; connections already open keep theirs. Files that do not load (half written, mismatched key) are logged and the previous certificate stays.
/// </summary>
internal sealed partial class ReloadingCertificates : IDisposable
{
    /// <summary>How often the files are looked at, at most.</summary>
    public static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);

    /// <summary>Larger files are compared by size and time only (a CA bundle of a few hundred certificates is well below).</summary>
    private const long MaxFileBytes = 1024 * 1024;

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly TlsSettings settings;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private long lastCheck;
    private byte[] certStamp;
    private byte[] caStamp;
    private X509Certificate2 certificate;
    private X509Certificate2Collection trusted;

    private ReloadingCertificates(TlsSettings settings, TimeProvider time, ILogger logger, X509Certificate2 certificate, X509Certificate2Collection trusted)
    {
        this.settings = settings;
        this.time = time;
        this.logger = logger;
        this.certificate = certificate;
        this.trusted = trusted;
        certStamp = CertStamp();
        caStamp = CaStamp();
        lastCheck = time.GetTimestamp();
    }

    /// <summary>Loads the files once; a member does not start with a certificate it cannot read.</summary>
    /// <param name="settings">The files and options.</param>
    /// <param name="time">Paces the checks for changed files.</param>
    /// <param name="logger">Reloads and failed reloads are logged here.</param>
    /// <param name="flagPrefix">How the flags of these settings begin, for the errors: <c>""</c> (<c>--cert-file</c>) or <c>"peer-"</c> (<c>--peer-cert-file</c>).</param>
    /// <exception cref="ArgumentException">The settings or the files are not usable (the message says which and why).</exception>
    public static ReloadingCertificates Load(TlsSettings settings, TimeProvider time, ILogger logger, string flagPrefix = "")
    {
        if (!settings.HasCertificate)
        {
            throw new ArgumentException(flagPrefix.Length == 0
                ? "https:// listen URLs need --cert-file and --key-file"
                : $"https:// {flagPrefix.TrimEnd('-')} URLs need --{flagPrefix}cert-file and --{flagPrefix}key-file");
        }

        if (settings.ClientCertAuth && string.IsNullOrEmpty(settings.TrustedCaFile))
        {
            throw new ArgumentException($"--{flagPrefix}client-cert-auth needs --{flagPrefix}trusted-ca-file (the CA client certificates must chain to)");
        }

        try
        {
            return new ReloadingCertificates(settings, time, logger, LoadCertificate(settings), LoadTrusted(settings));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ArgumentException($"the {flagPrefix.TrimEnd('-')}{(flagPrefix.Length == 0 ? "" : " ")}TLS files do not load: {e.Message}", e);
        }
    }

    /// <summary>The certificate to present now.</summary>
    public X509Certificate2 Certificate
    {
        get
        {
            Refresh();
            return Volatile.Read(ref certificate);
        }
    }

    /// <summary>
    /// Whether <paramref name="client"/> chains to a CA of <c>--trusted-ca-file</c> and may authenticate clients. The
    /// certificate's common name is the user once authentication is on (as in etcd).
    /// </summary>
    public bool IsTrustedClient(X509Certificate2 client) => Check(client, ClientAuthentication) is null;

    /// <summary>
    /// TLS between members with these certificates: the listener and every connection this member opens present
    /// <see cref="Certificate"/>; the other member's certificate must chain to the trusted CAs (the system's when no CA
    /// file is given, as etcd does) with the usage its side needs.
    /// </summary>
    public Cluster.Peers.PeerTls ForPeers() => new()
    {
        Certificate = () => Certificate,
        CheckServerCertificate = certificate => Check(certificate, ServerAuthentication),
        CheckClientCertificate = certificate => Check(certificate, ClientAuthentication),
        ClientCertificateRequired = settings.ClientCertAuth,
        Protocols = settings.Protocols,
        CipherSuites = settings.CipherSuites,
    };

    /// <summary>
    /// Null when <paramref name="certificate"/> chains to a trusted CA (those of the CA file, or the system's when none
    /// is configured) and carries <paramref name="usage"/>; otherwise why not.
    /// </summary>
    private string? Check(X509Certificate2 certificate, Oid usage)
    {
        Refresh();
        using var chain = new X509Chain();
        var trustedNow = Volatile.Read(ref trusted);
        if (trustedNow.Count > 0)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trustedNow);
        }

        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(usage);
        try
        {
            if (chain.Build(certificate))
            {
                return null;
            }

            var problems = chain.ChainStatus.Select(static s => s.StatusInformation.Trim()).Where(static s => s.Length > 0).Distinct().ToList();
            return problems.Count > 0 ? string.Join("; ", problems) : "it does not chain to a trusted CA";
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        certificate.Dispose();
        foreach (var ca in trusted)
        {
            ca.Dispose();
        }
    }

    private void Refresh()
    {
        if (time.GetElapsedTime(Volatile.Read(ref lastCheck)) < CheckEvery)
        {
            return;
        }

        lock (gate)
        {
            if (time.GetElapsedTime(lastCheck) < CheckEvery)
            {
                return;
            }

            Volatile.Write(ref lastCheck, time.GetTimestamp());
            ReloadCertificateIfChanged();
            ReloadTrustedIfChanged();
        }
    }

    private void ReloadCertificateIfChanged()
    {
        var stamp = CertStamp();
        if (stamp.AsSpan().SequenceEqual(certStamp))
        {
            return;
        }

        try
        {
            var loaded = LoadCertificate(settings);
            // Connections being set up may still hold the previous certificate: it is left to the finalizer.
            Volatile.Write(ref certificate, loaded);
            certStamp = stamp;
            LogCertificateReloaded(logger, settings.CertFile!, loaded.Subject, loaded.NotAfter);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Half written, or the key does not match yet: the next check tries again; the old certificate is served.
            LogReloadFailed(logger, settings.CertFile!, e.Message);
        }
    }

    private void ReloadTrustedIfChanged()
    {
        var stamp = CaStamp();
        if (stamp.AsSpan().SequenceEqual(caStamp))
        {
            return;
        }

        try
        {
            Volatile.Write(ref trusted, LoadTrusted(settings));
            caStamp = stamp;
            LogTrustReloaded(logger, settings.TrustedCaFile ?? "");
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            LogReloadFailed(logger, settings.TrustedCaFile ?? "", e.Message);
        }
    }

    private byte[] CertStamp() => Stamp(settings.CertFile, settings.KeyFile);

    private byte[] CaStamp() => Stamp(settings.TrustedCaFile);

    /// <summary>A digest of the files' bytes (an unreadable or missing file counts as empty).</summary>
    private static byte[] Stamp(params string?[] paths)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var path in paths)
        {
            if (string.IsNullOrEmpty(path))
            {
                continue;
            }

            try
            {
                var info = new FileInfo(path);
                // PEM files of certificates and keys are a few kilobytes; anything far larger is not read every second.
                if (!info.Exists)
                {
                    hash.AppendData([2]);
                }
                else if (info.Length <= MaxFileBytes)
                {
                    hash.AppendData(File.ReadAllBytes(path));
                }
                else
                {
                    hash.AppendData(BitConverter.GetBytes(info.Length));
                    hash.AppendData(BitConverter.GetBytes(info.LastWriteTimeUtc.Ticks));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            hash.AppendData([0]);
        }

        return hash.GetHashAndReset();
    }

    private static X509Certificate2 LoadCertificate(TlsSettings settings)
    {
        using var pem = X509Certificate2.CreateFromPemFile(settings.CertFile!, settings.KeyFile);
        // A certificate whose key lives only in memory (as CreateFromPemFile makes it) is exported and imported once, so
        // every TLS implementation can use its key.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    private static X509Certificate2Collection LoadTrusted(TlsSettings settings)
    {
        var collection = new X509Certificate2Collection();
        if (!string.IsNullOrEmpty(settings.TrustedCaFile))
        {
            collection.ImportFromPemFile(settings.TrustedCaFile);
            if (collection.Count == 0)
            {
                throw new ArgumentException($"{settings.TrustedCaFile} holds no PEM certificate");
            }
        }

        return collection;
    }

    [LoggerMessage(EventId = 3401, Level = LogLevel.Information, Message = "TLS certificate {File} reloaded: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogCertificateReloaded(ILogger logger, string file, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Information, Message = "Trusted CA file {File} reloaded")]
    private static partial void LogTrustReloaded(ILogger logger, string file);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Warning, Message = "TLS file {File} changed but does not load ({Reason}); the previous one stays in use")]
    private static partial void LogReloadFailed(ILogger logger, string file, string reason);
}

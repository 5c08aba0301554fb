using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace Conclave.Testing;

/// <summary>
/// TLS for a <see cref="NodeProcess"/>: its member certificate serves the client, HTTP and peer listeners (all
/// <c>https://</c>) and authenticates it to the other members; client certificates are required on every listener
/// (<c>--client-cert-auth</c>, <c>--peer-client-cert-auth</c>); the test connects with <see cref="ClientCertFile"/>.
/// </summary>
public sealed class NodeTls(string caFile, string certFile, string keyFile, string clientCertFile, string clientKeyFile)
{
    private readonly Lazy<X509Certificate2> clientCertificate = new(() => LoadPem(clientCertFile, clientKeyFile));
    private readonly Lazy<X509Certificate2> ca = new(() => X509CertificateLoader.LoadCertificateFromFile(caFile));

    /// <summary>The CA (PEM) every member and the test trust.</summary>
    public string CaFile { get; } = caFile;

    /// <summary>The member's certificate (PEM), for all three listeners and towards its peers.</summary>
    public string CertFile { get; } = certFile;

    public string KeyFile { get; } = keyFile;

    /// <summary>The test's client certificate (PEM).</summary>
    public string ClientCertFile { get; } = clientCertFile;

    public string ClientKeyFile { get; } = clientKeyFile;

    /// <summary>
    /// A member certificate from <paramref name="certificates"/> for <paramref name="host"/> (and loopback), with
    /// <paramref name="client"/> as the test's own certificate.
    /// </summary>
    public static NodeTls Issue(TestCertificates certificates, string name, string host, (string Cert, string Key) client)
    {
        var member = certificates.IssueMember(name, hosts: [.. new[] { host, "127.0.0.1", "localhost" }.Distinct(StringComparer.Ordinal)]);
        return new NodeTls(certificates.CaFile, member.Cert, member.Key, client.Cert, client.Key);
    }

    /// <summary>The flags of <c>conclave serve</c>: etcd's client and peer TLS flags, client certificates required on both.</summary>
    public IReadOnlyList<string> Arguments =>
    [
        "--cert-file", CertFile, "--key-file", KeyFile, "--trusted-ca-file", CaFile, "--client-cert-auth",
        "--peer-cert-file", CertFile, "--peer-key-file", KeyFile, "--peer-trusted-ca-file", CaFile, "--peer-client-cert-auth",
    ];

    /// <summary>An HTTP handler that trusts the CA (and nothing else) and presents the test's client certificate.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = [clientCertificate.Value],
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                certificate is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && ChainsToCa(certificate),
        },
        EnableMultipleHttp2Connections = true,
    };

    /// <summary>A gRPC channel to <paramref name="endpoint"/> over TLS with the test's client certificate.</summary>
    public GrpcChannel CreateChannel(string endpoint) =>
        GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions { HttpHandler = CreateHandler(), DisposeHttpClient = true });

    private bool ChainsToCa(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca.Value);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private static X509Certificate2 LoadPem(string certFile, string keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }
}

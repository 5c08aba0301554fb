using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Conclave.Server.Security;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// TLS on the client and HTTP listeners with etcd's flags (<c>https://</c> URLs, <c>--cert-file</c>, <c>--key-file</c>,
/// <c>--trusted-ca-file</c>, <c>--client-cert-auth</c>), driven by the real etcdctl, with real certificates; and a
/// certificate replaced on disk is served to new connections without a restart.
/// </summary>
public sealed class TlsListenerTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates certificates = new();

    public void Dispose() => certificates.Dispose();

    [Fact]
    public async Task Etcdctl_talks_to_an_https_member_that_it_trusts_through_the_CA()
    {
        var member = certificates.IssueMember();
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key } }, https: true);
        Assert.StartsWith("https://", node.Endpoint, StringComparison.Ordinal);

        (await Etcdctl.RunAsync(node.Endpoint, "--cacert", certificates.CaFile, "put", "tls/k", "v1")).EnsureSuccess();
        var get = (await Etcdctl.RunAsync(node.Endpoint, "--cacert", certificates.CaFile, "get", "tls/k", "--print-value-only")).EnsureSuccess();
        Assert.Equal(["v1"], get.Lines);

        // Without the CA, etcdctl does not trust the member; over plain text the listener does not answer etcd at all.
        var untrusted = await Etcdctl.RunAsync(node.Endpoint, ["--command-timeout=3s", "get", "tls/k"], stdin: null);
        Assert.NotEqual(0, untrusted.ExitCode);
        output.WriteLine($"without the CA: {untrusted.Stderr}");
        var plain = await Etcdctl.RunAsync(node.Endpoint.Replace("https://", "http://", StringComparison.Ordinal), ["--command-timeout=3s", "get", "tls/k"], stdin: null);
        Assert.NotEqual(0, plain.ExitCode);

        // The HTTP listener (JSON API, /health, /metrics) serves the same certificate.
        using var http = HttpsClient(clientCertificate: null);
        var health = await http.GetAsync(new Uri(new Uri(node.HttpUrl), "/health"));
        Assert.True(health.IsSuccessStatusCode, $"/health over TLS answered {(int)health.StatusCode}");
    }

    [Fact]
    public async Task With_client_cert_auth_only_clients_with_a_trusted_certificate_get_in()
    {
        var member = certificates.IssueMember();
        var client = certificates.IssueClient("alice");
        var stranger = certificates.IssueUntrustedClient("mallory");
        await using var node = await TestNode.StartInProcessAsync(
            output,
            o => o with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key, TrustedCaFile = certificates.CaFile, ClientCertAuth = true } },
            https: true);

        var withCert = await Etcdctl.RunAsync(node.Endpoint, "--cacert", certificates.CaFile, "--cert", client.Cert, "--key", client.Key, "put", "mtls/k", "v");
        withCert.EnsureSuccess();

        var withoutCert = await Etcdctl.RunAsync(node.Endpoint, ["--cacert", certificates.CaFile, "--command-timeout=3s", "get", "mtls/k"], stdin: null);
        Assert.NotEqual(0, withoutCert.ExitCode);

        var withStrangersCert = await Etcdctl.RunAsync(
            node.Endpoint, ["--cacert", certificates.CaFile, "--cert", stranger.Cert, "--key", stranger.Key, "--command-timeout=3s", "get", "mtls/k"], stdin: null);
        Assert.NotEqual(0, withStrangersCert.ExitCode);

        // The HTTP listener asks for the same.
        using var anonymous = HttpsClient(clientCertificate: null);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetAsync(new Uri(new Uri(node.HttpUrl), "/health")));
        using var alice = HttpsClient(X509Certificate2.CreateFromPemFile(client.Cert, client.Key));
        Assert.True((await alice.GetAsync(new Uri(new Uri(node.HttpUrl), "/health"))).IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_replaced_certificate_is_served_to_new_connections_without_a_restart()
    {
        var first = certificates.IssueMember("first");
        var second = certificates.IssueMember("second");
        var certFile = Path.Combine(certificates.Folder, "live.crt");
        var keyFile = Path.Combine(certificates.Folder, "live.key");
        File.Copy(first.Cert, certFile);
        File.Copy(first.Key, keyFile);
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Tls = new TlsSettings { CertFile = certFile, KeyFile = keyFile } }, https: true);
        var endpoint = new Uri(node.Endpoint);
        Assert.Equal(first.Certificate.Thumbprint, (await PresentedAsync(endpoint)).Thumbprint);

        // A connection opened before the rotation keeps working.
        (await Etcdctl.RunAsync(node.Endpoint, "--cacert", certificates.CaFile, "put", "rotate/k", "before")).EnsureSuccess();
        using var open = await HandshakeAsync(endpoint);

        // Written as a deployment tool would: the key first, then the certificate (each replaced whole).
        ReplaceFile(second.Key, keyFile);
        ReplaceFile(second.Cert, certFile);
        await Eventually.WaitAsync(
            async _ => (await PresentedAsync(endpoint)).Thumbprint == second.Certificate.Thumbprint,
            TimeSpan.FromSeconds(10),
            "new connections to be served the replaced certificate");
        Assert.True(open.IsAuthenticated);
        Assert.Equal(first.Certificate.Thumbprint, AsCertificate2(open.RemoteCertificate!).Thumbprint);
        (await Etcdctl.RunAsync(node.Endpoint, "--cacert", certificates.CaFile, "put", "rotate/k", "after")).EnsureSuccess();
    }

    [Fact]
    public async Task Unusable_TLS_settings_stop_the_start_with_a_reason()
    {
        var noCertificate = await Assert.ThrowsAsync<ArgumentException>(() => TestNode.StartInProcessAsync(output, o => o with { Tls = new TlsSettings() }, https: true));
        Assert.Contains("--cert-file", noCertificate.Message, StringComparison.Ordinal);

        var member = certificates.IssueMember();
        var noCa = await Assert.ThrowsAsync<ArgumentException>(() => TestNode.StartInProcessAsync(
            output, o => o with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key, ClientCertAuth = true } }, https: true));
        Assert.Contains("--trusted-ca-file", noCa.Message, StringComparison.Ordinal);

        var other = certificates.IssueMember("other");
        var mismatched = await Assert.ThrowsAsync<ArgumentException>(() => TestNode.StartInProcessAsync(
            output, o => o with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = other.Key } }, https: true));
        Assert.Contains("do not load", mismatched.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => TlsSettings.ParseMinVersion("TLS1.0"));
        Assert.Equal(SslProtocols.Tls13, TlsSettings.ParseMinVersion("TLS1.3"));
        Assert.Throws<ArgumentException>(() => TlsSettings.ParseCipherSuites("TLS_RSA_WITH_NOTHING"));
        Assert.Equal([TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], TlsSettings.ParseCipherSuites("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
    }

    private HttpClient HttpsClient(X509Certificate2? clientCertificate)
    {
        var trusted = X509CertificateLoader.LoadCertificateFromFile(certificates.CaFile);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ChainsTo(AsCertificate2(certificate), trusted),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    [Fact]
    public async Task Rotating_the_certificate_under_load_fails_no_request()
    {
        var first = certificates.IssueMember("first");
        var second = certificates.IssueMember("second");
        var certFile = Path.Combine(certificates.Folder, "load.crt");
        var keyFile = Path.Combine(certificates.Folder, "load.key");
        File.Copy(first.Cert, certFile);
        File.Copy(first.Key, keyFile);
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Tls = new TlsSettings { CertFile = certFile, KeyFile = keyFile } }, https: true);
        var endpoint = new Uri(node.Endpoint);
        var trusted = X509CertificateLoader.LoadCertificateFromFile(certificates.CaFile);

        // Four writers, each opening a new connection every few requests (new connections are what rotation changes).
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var done = 0L;
        async Task WriterAsync(int writer)
        {
            for (var round = 0; !stop.IsCancellationRequested; round++)
            {
                using var handler = new SocketsHttpHandler();
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ChainsTo(AsCertificate2(certificate), trusted);
                using var channel = global::Grpc.Net.Client.GrpcChannel.ForAddress(endpoint, new global::Grpc.Net.Client.GrpcChannelOptions { HttpHandler = handler });
                var kv = new Api.Etcd.KV.KVClient(channel);
                for (var i = 0; i < 5; i++)
                {
                    try
                    {
                        await kv.PutAsync(new Api.Etcd.PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8($"load/{writer}"), Value = Google.Protobuf.ByteString.CopyFromUtf8($"{round}.{i}") });
                        Interlocked.Increment(ref done);
                    }
                    catch (global::Grpc.Core.RpcException e)
                    {
                        failures.Enqueue($"writer {writer} round {round}: {e.Status}");
                    }
                }
            }
        }

        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() => WriterAsync(w))).ToList();
        await Eventually.WaitAsync(_ => Task.FromResult(Interlocked.Read(ref done) >= 100), TimeSpan.FromSeconds(30), "100 writes before the rotation");
        ReplaceFile(second.Key, keyFile);
        ReplaceFile(second.Cert, certFile);
        await Eventually.WaitAsync(
            async _ => (await PresentedAsync(endpoint)).Thumbprint == second.Certificate.Thumbprint,
            TimeSpan.FromSeconds(10),
            "new connections to be served the replaced certificate");
        var atRotation = Interlocked.Read(ref done);
        await Eventually.WaitAsync(_ => Task.FromResult(Interlocked.Read(ref done) >= atRotation + 100), TimeSpan.FromSeconds(30), "100 writes after the rotation");
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        output.WriteLine($"{Interlocked.Read(ref done)} writes, {failures.Count} failed");
        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.Take(10)));
    }

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    /// <summary>The certificate a new TLS connection to <paramref name="endpoint"/> is served.</summary>
    private async Task<X509Certificate2> PresentedAsync(Uri endpoint)
    {
        using var ssl = await HandshakeAsync(endpoint);
        return AsCertificate2(ssl.RemoteCertificate!);
    }

    private async Task<SslStream> HandshakeAsync(Uri endpoint)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint.Host, endpoint.Port);
        var trusted = X509CertificateLoader.LoadCertificateFromFile(certificates.CaFile);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ChainsTo(AsCertificate2(certificate), trusted),
        });
        return ssl;
    }

    private static X509Certificate2 AsCertificate2(X509Certificate certificate) =>
        certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());

    /// <summary>Replaces <paramref name="target"/> whole (a new file moved over it), as deployment tools do.</summary>
    private static void ReplaceFile(string source, string target)
    {
        var temporary = target + ".new";
        File.Copy(source, temporary, overwrite: true);
        File.Move(temporary, target, overwrite: true);
    }
}

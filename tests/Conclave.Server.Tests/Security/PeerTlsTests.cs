using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Conclave.Cluster.Peers;
using Conclave.Server.Security;
using Conclave.Server.Tests.Fixtures;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// TLS between members (<c>https://</c> peer URLs with etcd's <c>--peer-cert-file</c>, <c>--peer-key-file</c>,
/// <c>--peer-trusted-ca-file</c>, <c>--peer-client-cert-auth</c>), seen from outside a real member with real
/// certificates: strangers in plain text, without a certificate or with another CA's are refused before any channel;
/// the connecting side checks the listener's certificate names the address it dialled; a replaced certificate reaches
/// new connections; unusable settings stop the start. (A cluster of member processes over peer TLS:
/// Robustness.Tests' PeerTlsClusterTests.)
/// </summary>
public sealed class PeerTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates certificates = new();
    private readonly TempDirectory directory = TempDirectory.Create("conclave-peertls-");

    public void Dispose()
    {
        certificates.Dispose();
        directory.Dispose();
    }

    [Fact]
    public async Task A_member_with_a_trusted_certificate_reaches_the_request_channel_over_TLS()
    {
        await using var node = await StartAsync(clientCertAuth: true);
        var member = certificates.IssueMember("m2");

        using var ssl = await HandshakeAsync(node, member.Cert, member.Key);
        Assert.True(ssl.IsMutuallyAuthenticated);
        await OpenRequestChannelAsync(ssl);
        Assert.True(await PingsAsync(ssl), "a ping on the request channel over TLS gets its pong");
    }

    [Fact]
    public async Task A_plain_TCP_client_on_a_TLS_peer_port_gets_nothing_and_reaches_no_channel()
    {
        var logs = new RecordingLoggerProvider();
        await using var node = await StartAsync(clientCertAuth: true, logs);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(PeerEndPoint(node));
        var local = $"127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}";

        // What a member with http:// peer URLs sends: the request channel's preamble and a ping.
        var ping = new byte[PeerFrame.HeaderSize];
        new PeerFrame(PeerFrameType.Ping, 0, 0, 7).WriteHeader(ping);
        await socket.SendAsync((byte[])[.. PeerPreamble.For(PeerChannel.Requests), .. ping], SocketFlags.None);

        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));
        output.WriteLine($"a plain-text client got {answer.Length} byte(s) back");
        Assert.Empty(answer);
        await Eventually.WaitAsync(
            () => logs.Entries.Any(e => e.EventId.Id == 2100 && e.Message.Contains(local, StringComparison.Ordinal) && e.Message.Contains("TLS handshake failed", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "the listener to close the plain-text connection in its TLS handshake (before any preamble is read)");
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains(local, StringComparison.Ordinal));
        await AssertServesAsync(node);
    }

    [Theory]
    [InlineData("no certificate", "presented no certificate")]
    [InlineData("another CA's certificate", "is not trusted")]
    public async Task Under_peer_client_cert_auth_a_TLS_client_is_refused_with(string what, string reason)
    {
        var logs = new RecordingLoggerProvider();
        await using var node = await StartAsync(clientCertAuth: true, logs);
        var stranger = what == "no certificate" ? default : certificates.IssueUntrustedMember("mallory");

        for (var attempt = 0; attempt < 3; attempt++)
        {
            // TLS 1.3 finishes the client's side before the listener has checked its certificate: the refusal shows
            // either in the handshake or as a closed connection at the first read.
            var served = false;
            try
            {
                using var ssl = await HandshakeAsync(node, stranger.Cert, stranger.Key);
                await OpenRequestChannelAsync(ssl);
                served = await PingsAsync(ssl);
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                output.WriteLine($"{what}, attempt {attempt}: {e.GetType().Name}: {e.Message}");
            }

            Assert.False(served, $"a TLS client with {what} reached the request channel");
        }

        // Logged at Warning with the address and why, once (three refusals from one address within a minute).
        await Eventually.WaitAsync(
            () => logs.Entries.Count(e => e.EventId.Id == 2102) >= 1 && logs.Entries.Count(e => e.EventId.Id == 2104) >= 2,
            TimeSpan.FromSeconds(10),
            "one Warning for the refused certificates and Debug lines for the repeats");
        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 2102);
        output.WriteLine(warning.Message);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("127.0.0.1", warning.Message, StringComparison.Ordinal);
        Assert.Contains(reason, warning.Message, StringComparison.Ordinal);
        await AssertServesAsync(node);
    }

    [Fact]
    public async Task A_member_refuses_a_listener_whose_certificate_does_not_name_the_address_it_dialled()
    {
        // The listener's certificate names only "peer.example": a member dialling 127.0.0.1 must not trust it.
        var unnamed = certificates.IssueMember("unnamed", hosts: ["peer.example"]);
        await using var node = await StartAsync(clientCertAuth: true, certificate: unnamed);
        var member = certificates.IssueMember("m2");
        using var own = ReloadingCertificates.Load(PeerSettings(member, clientCertAuth: true), TimeProvider.System, NullLogger.Instance, "peer-");
        var connector = new PeerConnector(own.ForPeers(), NullLogger.Instance, TimeProvider.System);

        var refused = await Assert.ThrowsAsync<PeerTlsException>(() => connector.OpenAsync(PeerEndPoint(node), PeerChannel.Requests, CancellationToken.None));
        output.WriteLine(refused.Message);
        Assert.True(refused.CertificateRefused);
        Assert.Contains("does not name 127.0.0.1", refused.Message, StringComparison.Ordinal);

        // The same connector trusts a listener whose certificate names the address.
        await using var named = await StartAsync(clientCertAuth: true);
        await using var stream = await connector.OpenAsync(PeerEndPoint(named), PeerChannel.Requests, CancellationToken.None);
        Assert.IsType<SslStream>(stream);
    }

    [Fact]
    public async Task A_replaced_peer_certificate_is_served_to_new_peer_connections_without_a_restart()
    {
        var first = certificates.IssueMember("first");
        var second = certificates.IssueMember("second");
        var live = (Cert: Path.Combine(certificates.Folder, "peer-live.crt"), Key: Path.Combine(certificates.Folder, "peer-live.key"), first.Certificate);
        File.Copy(first.Cert, live.Cert);
        File.Copy(first.Key, live.Key);
        await using var node = await StartAsync(clientCertAuth: true, certificate: live);
        var member = certificates.IssueMember("m2");

        using var open = await HandshakeAsync(node, member.Cert, member.Key);
        await OpenRequestChannelAsync(open);
        Assert.Equal(first.Certificate.Thumbprint, Thumbprint(open));
        Assert.True(await PingsAsync(open));

        // Written as a deployment tool would: the key first, then the certificate (each replaced whole).
        ReplaceFile(second.Key, live.Key);
        ReplaceFile(second.Cert, live.Cert);
        await Eventually.WaitAsync(
            async _ =>
            {
                using var ssl = await HandshakeAsync(node, member.Cert, member.Key);
                return Thumbprint(ssl) == second.Certificate.Thumbprint;
            },
            TimeSpan.FromSeconds(10),
            "new peer connections to be served the replaced certificate");

        // The connection opened before keeps its certificate and still works.
        Assert.Equal(first.Certificate.Thumbprint, Thumbprint(open));
        Assert.True(await PingsAsync(open));
        await AssertServesAsync(node);
    }

    [Fact]
    public async Task The_peer_listener_keeps_to_tls_min_version()
    {
        await using var node = await StartAsync(clientCertAuth: true, minVersion: SslProtocols.Tls13);
        var member = certificates.IssueMember("m2");

        var old = await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(node, member.Cert, member.Key, SslProtocols.Tls12));
        Assert.True(old is AuthenticationException or IOException, $"a TLS 1.2 handshake failed with {old.GetType().Name}: {old.Message}");
        using var ssl = await HandshakeAsync(node, member.Cert, member.Key);
        Assert.Equal(SslProtocols.Tls13, ssl.SslProtocol);
    }

    [Fact]
    public async Task Unusable_peer_TLS_settings_stop_the_start_with_what_to_fix()
    {
        var member = certificates.IssueMember();

        var noCertificate = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(Options("https://127.0.0.1:0"), _ => { }));
        Assert.Contains("--peer-cert-file", noCertificate.Message, StringComparison.Ordinal);

        var noCa = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(
            Options("https://127.0.0.1:0") with { PeerTls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key, ClientCertAuth = true } }, _ => { }));
        Assert.Contains("--peer-trusted-ca-file", noCa.Message, StringComparison.Ordinal);

        var other = certificates.IssueMember("other");
        var mismatched = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(
            Options("https://127.0.0.1:0") with { PeerTls = new TlsSettings { CertFile = member.Cert, KeyFile = other.Key } }, _ => { }));
        Assert.Contains("peer TLS files do not load", mismatched.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https", "http")]
    [InlineData("http", "https")]
    public async Task Mixed_http_and_https_peer_urls_stop_the_start_with_what_to_fix(string mine, string theirs)
    {
        var member = certificates.IssueMember();
        var ports = FreePorts.Take(2);
        var options = Options($"{mine}://127.0.0.1:{ports[0]}") with
        {
            Name = "m1",
            InitialCluster = $"m1={mine}://127.0.0.1:{ports[0]},m2={theirs}://127.0.0.1:{ports[1]}",
            PeerTls = PeerSettings(member, clientCertAuth: true),
        };

        var mixed = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(options, _ => { }));
        output.WriteLine(mixed.Message);
        Assert.Contains($"m2={theirs}://127.0.0.1:{ports[1]}", mixed.Message, StringComparison.Ordinal);
        Assert.Contains("members speak TLS to each other or none does", mixed.Message, StringComparison.Ordinal);

        // A member whose own listen and advertised peer URLs differ in scheme is refused too.
        var advertised = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(
            Options($"{mine}://127.0.0.1:0") with { InitialAdvertisePeerUrl = $"{theirs}://127.0.0.1:{ports[0]}", PeerTls = PeerSettings(member, clientCertAuth: true) }, _ => { }));
        Assert.Contains("--initial-advertise-peer-urls", advertised.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_https_peer_url_off_loopback_needs_no_insecure_listen_and_warns_without_peer_client_cert_auth()
    {
        var member = certificates.IssueMember();
        var logs = new RecordingLoggerProvider();
        var authenticated = Options("https://0.0.0.0:0") with { PeerTls = PeerSettings(member, clientCertAuth: true) };
        await using (var server = await ConclaveServer.StartAsync(authenticated, logging => logging.AddProvider(logs)))
        {
            Assert.StartsWith("https://0.0.0.0:", server.PeerUrl, StringComparison.Ordinal);
            Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Category == "Conclave.Server.Security");
        }

        var open = Options("https://0.0.0.0:0") with { PeerTls = PeerSettings(member, clientCertAuth: false) };
        await using (var server = await ConclaveServer.StartAsync(open, logging => logging.AddProvider(logs)))
        {
            var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Category == "Conclave.Server.Security");
            Assert.Contains("anyone who reaches the peer port can speak Raft", warning.Message, StringComparison.Ordinal);
            Assert.Contains(server.PeerUrl, warning.Message, StringComparison.Ordinal);
        }

        // Plain text off loopback still needs the flag.
        var plain = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(Options("http://0.0.0.0:0"), _ => { }));
        Assert.Contains("--insecure-listen", plain.Message, StringComparison.Ordinal);
        Assert.Contains("--peer-client-cert-auth", plain.Message, StringComparison.Ordinal);
    }

    private async Task<TestNode> StartAsync(
        bool clientCertAuth, RecordingLoggerProvider? logs = null, (string Cert, string Key, X509Certificate2 Certificate)? certificate = null, SslProtocols minVersion = SslProtocols.Tls12)
    {
        var member = certificate ?? certificates.IssueMember("m1");
        return await TestNode.StartInProcessAsync(
            output,
            o => o with { PeerTls = PeerSettings(member, clientCertAuth) with { MinVersion = minVersion } },
            httpsPeer: true,
            logging: logs is null ? null : builder =>
            {
                builder.AddProvider(logs);
                builder.AddFilter<RecordingLoggerProvider>(null, LogLevel.Debug);
            });
    }

    private TlsSettings PeerSettings((string Cert, string Key, X509Certificate2 Certificate) member, bool clientCertAuth) => new()
    {
        CertFile = member.Cert,
        KeyFile = member.Key,
        TrustedCaFile = certificates.CaFile,
        ClientCertAuth = clientCertAuth,
    };

    private ServerOptions Options(string peerUrl) => new()
    {
        Name = "peer-tls-test",
        DataDirectory = directory.Combine("data-" + Guid.NewGuid().ToString("N")),
        ListenClientUrls = ["http://127.0.0.1:0"],
        ListenHttpUrls = ["http://127.0.0.1:0"],
        ListenPeerUrl = peerUrl,
    };

    private static IPEndPoint PeerEndPoint(TestNode node)
    {
        var uri = new Uri(node.PeerUrl);
        return new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
    }

    /// <summary>A TLS client on the member's peer port that trusts the test CA and presents the given certificate (or none).</summary>
    private async Task<SslStream> HandshakeAsync(TestNode node, string? certFile, string? keyFile, SslProtocols protocols = SslProtocols.None)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(PeerEndPoint(node));
        var ca = X509CertificateLoader.LoadCertificateFromFile(certificates.CaFile);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            X509Certificate2? client = null;
            if (certFile is not null)
            {
                using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
                client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "127.0.0.1",
                    EnabledSslProtocols = protocols,
                    ClientCertificateContext = client is null ? null : SslStreamCertificateContext.Create(client, null, offline: true),
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                        certificate is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && ChainsTo(AsCertificate2(certificate), ca),
                },
                timeout.Token);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens the request channel on a connection (its preamble; once per connection, within the handshake timeout).</summary>
    private static async Task OpenRequestChannelAsync(Stream stream) => await stream.WriteAsync(PeerPreamble.For(PeerChannel.Requests));

    /// <summary>Sends a ping on an open request channel; true when the pong comes back, false when the connection closes instead.</summary>
    private static async Task<bool> PingsAsync(Stream stream)
    {
        var ping = new byte[PeerFrame.HeaderSize];
        new PeerFrame(PeerFrameType.Ping, 0, 0, 42).WriteHeader(ping);
        await stream.WriteAsync(ping);
        var answer = new byte[PeerFrame.HeaderSize];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var read = 0; read < answer.Length;)
        {
            var n = await stream.ReadAsync(answer.AsMemory(read), timeout.Token);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        var buffer = new ReadOnlySequence<byte>(answer);
        return PeerFrame.TryRead(ref buffer, 0, out var frame, out _, out _) == PeerFrameRead.Complete && frame is { Type: PeerFrameType.Pong, Id: 42 };
    }

    private static async Task<byte[]> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var received = new List<byte>();
        var buffer = new byte[256];
        try
        {
            for (int n; (n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0;)
            {
                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException)
        {
            // Reset: closed as well.
        }

        return [.. received];
    }

    /// <summary>The member still answers clients (a put and its read).</summary>
    private static async Task AssertServesAsync(TestNode node)
    {
        var key = Keys.Unique("peer-tls");
        (await Etcdctl.RunAsync(node.Endpoint, "put", key, "alive")).EnsureSuccess();
        var get = (await Etcdctl.RunAsync(node.Endpoint, "get", key, "--print-value-only")).EnsureSuccess();
        Assert.Equal(["alive"], get.Lines);
    }

    private static string Thumbprint(SslStream ssl) => AsCertificate2(ssl.RemoteCertificate!).Thumbprint;

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
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

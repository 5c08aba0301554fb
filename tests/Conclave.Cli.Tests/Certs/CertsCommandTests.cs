using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Conclave.Cli.Commands.Certs;

namespace Conclave.Cli.Tests.Certs;

/// <summary>
/// <c>conclave certs</c>: the CA and certificates it makes verify with openssl, carry the usages TLS needs, keep their
/// keys private, and work in a real TLS handshake with client-certificate authentication.
/// </summary>
public sealed class CertsCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "conclave-certs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Init_member_and_client_make_certificates_openssl_verifies_with_private_keys()
    {
        Assert.Equal(0, (await RunAsync("certs", "init", "--dir", directory)).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "member", "m1", "--dir", directory, "--hosts", "m1.example,10.0.0.5", "--hosts", "localhost")).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "client", "alice", "--dir", directory, "--days", "30")).ExitCode);

        var verify = await OpenSslAsync("verify", "-CAfile", Path.Combine(directory, "ca.crt"), Path.Combine(directory, "m1.crt"), Path.Combine(directory, "alice.crt"));
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.Contains("m1.crt: OK", verify.Output, StringComparison.Ordinal);
        Assert.Contains("alice.crt: OK", verify.Output, StringComparison.Ordinal);

        var text = (await OpenSslAsync("x509", "-in", Path.Combine(directory, "m1.crt"), "-noout", "-text")).Output;
        Assert.Contains("DNS:m1.example", text, StringComparison.Ordinal);
        Assert.Contains("IP Address:10.0.0.5", text, StringComparison.Ordinal);
        Assert.Contains("TLS Web Server Authentication, TLS Web Client Authentication", text, StringComparison.Ordinal);
        Assert.Contains("CA:FALSE", text, StringComparison.Ordinal);

        using var alice = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(directory, "alice.crt")));
        Assert.Equal("CN=alice", alice.Subject);
        Assert.InRange(alice.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddDays(29), DateTime.UtcNow.AddDays(31));

        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var key in new[] { "ca.key", "m1.key", "alice.key" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, key)));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
    }

    [Fact]
    public async Task The_certificates_work_in_a_tls_handshake_with_client_certificate_authentication()
    {
        await RunAsync("certs", "init", "--dir", directory);
        await RunAsync("certs", "member", "m1", "--dir", directory);
        await RunAsync("certs", "client", "alice", "--dir", directory);
        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(directory, "ca.crt")));
        using var serverCertificate = Load("m1");
        using var clientCertificate = Load("alice");

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var server = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptTcpClientAsync(timeout.Token);
            await using var tls = new SslStream(accepted.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = serverCertificate,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsTo(ca, certificate, X509KeyUsage.Client),
            }, timeout.Token);
            return tls.RemoteCertificate is { } remote ? new X509Certificate2(remote).GetNameInfo(X509NameType.SimpleName, forIssuer: false) : null;
        });

        using var connection = new TcpClient();
        await connection.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        await using var client = new SslStream(connection.GetStream());
        await client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [clientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && ChainsTo(ca, certificate, X509KeyUsage.Server),
        }, timeout.Token);

        Assert.Equal("alice", await server);
        Assert.True(client.IsAuthenticated && client.IsMutuallyAuthenticated);
    }

    [Fact]
    public async Task Refusals_name_the_problem()
    {
        var noCa = await RunAsync("certs", "member", "m1", "--dir", directory);
        Assert.Equal(1, noCa.ExitCode);
        Assert.Contains("run 'conclave certs init", noCa.Error, StringComparison.Ordinal);

        await RunAsync("certs", "init", "--dir", directory);
        var again = await RunAsync("certs", "init", "--dir", directory);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Error, StringComparison.Ordinal);

        var traversal = await RunAsync("certs", "client", "../evil", "--dir", directory);
        Assert.Equal(1, traversal.ExitCode);
        Assert.Contains("cannot name a certificate", traversal.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(directory)!, "evil.key")));

        var badHost = await RunAsync("certs", "member", "m1", "--dir", directory, "--hosts", "not a host!");
        Assert.Equal(1, badHost.ExitCode);
        Assert.Contains("neither a DNS name nor an IP address", badHost.Error, StringComparison.Ordinal);

        var replaced = await RunAsync("certs", "init", "--dir", directory, "--force");
        Assert.Equal(0, replaced.ExitCode);
    }

    private X509Certificate2 Load(string name)
    {
        // Through PKCS#12, so that SslStream can use the ephemeral key on every platform.
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(directory, $"{name}.crt"), Path.Combine(directory, $"{name}.key"));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private enum X509KeyUsage
    {
        Server,
        Client,
    }

    private static bool ChainsTo(X509Certificate2 ca, X509Certificate? presented, X509KeyUsage usage)
    {
        if (presented is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(usage == X509KeyUsage.Server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"));
        using var certificate = new X509Certificate2(presented);
        return chain.Build(certificate);
    }

    /// <summary>
    /// The README's TLS path: <c>conclave certs</c> makes the files, a member serves its client and HTTP URLs over TLS
    /// with client certificates required, and <c>conclave put/get</c> (and etcdctl) talk to it with
    /// <c>--cacert/--cert/--key</c>; without a client certificate they are turned away.
    /// </summary>
    [Fact]
    public async Task A_tls_member_with_certs_from_the_cli_serves_the_cli_and_etcdctl()
    {
        Assert.Equal(0, (await RunAsync("certs", "init", "--dir", directory)).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "member", "m1", "--dir", directory)).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "client", "alice", "--dir", directory)).ExitCode);
        string File(string name) => Path.Combine(directory, name);
        await using var node = await TestNode.StartInProcessAsync(
            configure: o => o with
            {
                Tls = new Conclave.Server.Security.TlsSettings
                {
                    CertFile = File("m1.crt"), KeyFile = File("m1.key"), TrustedCaFile = File("ca.crt"), ClientCertAuth = true,
                },
            },
            https: true);

        string[] tls = ["--endpoints", node.Endpoint, "--cacert", File("ca.crt"), "--cert", File("alice.crt"), "--key", File("alice.key")];
        var put = await RunAsync(["kv", "put", "tls/greeting", "hello", .. tls]);
        Assert.True(put.ExitCode == 0, put.Error);
        var get = await RunAsync(["kv", "get", "tls/greeting", .. tls]);
        Assert.True(get.ExitCode == 0, get.Error);
        Assert.Equal(["tls/greeting", "hello"], get.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        var noClientCertificate = await RunAsync("kv", "get", "tls/greeting", "--endpoints", node.Endpoint, "--cacert", File("ca.crt"), "--command-timeout", "3");
        Assert.NotEqual(0, noClientCertificate.ExitCode);

        var etcdctl = await Etcdctl.RunAsync(node.Endpoint, "--cacert", File("ca.crt"), "--cert", File("alice.crt"), "--key", File("alice.key"), "get", "tls/greeting", "--print-value-only");
        Assert.Equal(["hello"], etcdctl.EnsureSuccess().Lines);
    }

    /// <summary>
    /// docs/security.md's peer TLS path: member certificates from <c>conclave certs member</c> (default names) serve
    /// the peer listeners and authenticate two members to each other (<c>--peer-client-cert-auth</c>): they elect a
    /// leader and a write through one is read through the other.
    /// </summary>
    [Fact]
    public async Task Member_certificates_from_the_cli_authenticate_members_to_each_other()
    {
        Assert.Equal(0, (await RunAsync("certs", "init", "--dir", directory)).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "member", "m1", "--dir", directory)).ExitCode);
        Assert.Equal(0, (await RunAsync("certs", "member", "m2", "--dir", directory)).ExitCode);
        string File(string name) => Path.Combine(directory, name);
        var ports = FreePorts.Take(2);
        var initialCluster = $"m1=https://127.0.0.1:{ports[0]},m2=https://127.0.0.1:{ports[1]}";
        Conclave.Server.ServerOptions Member(int i) => new()
        {
            Name = $"m{i + 1}",
            DataDirectory = Path.Combine(directory, $"data-m{i + 1}"),
            ListenClientUrls = ["http://127.0.0.1:0"],
            ListenHttpUrls = ["http://127.0.0.1:0"],
            ListenPeerUrl = $"https://127.0.0.1:{ports[i]}",
            InitialCluster = initialCluster,
            PeerTls = new Conclave.Server.Security.TlsSettings
            {
                CertFile = File($"m{i + 1}.crt"), KeyFile = File($"m{i + 1}.key"), TrustedCaFile = File("ca.crt"), ClientCertAuth = true,
            },
        };

        // Both start at once (each waits for the other to elect); whichever started is stopped however the test ends.
        var starting = Enumerable.Range(0, 2).Select(i => Conclave.Server.ConclaveServer.StartAsync(Member(i), _ => { })).ToArray();
        try
        {
            var servers = await Task.WhenAll(starting);
            await Eventually.WaitAsync(
                async _ => (await Etcdctl.RunAsync(servers[0].ClientUrls[0], ["--command-timeout=2s", "put", "peer-tls/k", "v"], stdin: null)).ExitCode == 0,
                Eventually.DefaultTimeout,
                "the two members to elect a leader over peer TLS and take a write");
            var get = await Etcdctl.RunAsync(servers[1].ClientUrls[0], "get", "peer-tls/k", "--print-value-only");
            Assert.Equal(["v"], get.EnsureSuccess().Lines);
        }
        finally
        {
            await Task.WhenAll(starting.Select(static t => t.ContinueWith(static t => t.IsCompletedSuccessfully ? t.Result.DisposeAsync().AsTask() : Task.CompletedTask, TaskScheduler.Default).Unwrap()));
        }
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("conclave (test)") { CertsCommand.Create() };
        foreach (var command in Conclave.Cli.Commands.Client.ClientCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private static async Task<(int ExitCode, string Output)> OpenSslAsync(params string[] args)
    {
        var start = new ProcessStartInfo("openssl", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Conclave.Server.Security;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// <c>--listen-metrics-urls</c>: extra listeners serving only <c>/metrics</c> and <c>/health</c> (etcd's flag), over
/// http:// or https:// (the client listeners' certificate), with a connection budget of their own; plain text off
/// loopback needs <c>--insecure-listen</c> as on every listener.
/// </summary>
public sealed class MetricsListenerTests(ITestOutputHelper output)
{
    private static Func<ServerOptions, ServerOptions> WithMetrics(string scheme = "http") => o => o with { ListenMetricsUrls = [$"{scheme}://127.0.0.1:0"] };

    [Fact]
    public async Task Serves_metrics_and_health_and_nothing_else()
    {
        await using var node = await TestNode.StartInProcessAsync(output, WithMetrics());
        var metricsUrl = Assert.Single(node.Server.MetricsUrls);
        Assert.NotEqual(new Uri(node.HttpUrl).Port, new Uri(metricsUrl).Port);
        using var metrics = new HttpClient { BaseAddress = new Uri(metricsUrl), Timeout = TimeSpan.FromSeconds(10) };

        using (var health = await metrics.GetAsync(new Uri("/health", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Contains("\"health\":\"true\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var scrape = await metrics.GetAsync(new Uri("/metrics", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
            Assert.Contains("conclave_server_has_leader 1", await scrape.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The API, the gateway, the console and the rest are not served here, for any method; nothing is written.
        var revision = node.Server.Node.Store.Revision;
        foreach (var (method, path) in new[] { ("GET", "/api/v1/apps"), ("POST", "/api/v1/apps"), ("POST", "/v3/kv/range"), ("POST", "/v3/kv/put"), ("GET", "/"), ("GET", "/version"), ("POST", "/health") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path)
            {
                Content = method == "POST" ? new StringContent("""{"key":"Zm9v","id":"x"}""", Encoding.UTF8, "application/json") : null,
            };
            using var response = await metrics.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path} on the metrics listener: {(int)response.StatusCode}");
            Assert.Contains("--listen-metrics-urls", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(revision, node.Server.Node.Store.Revision);

        // The HTTP listener still serves all of it.
        using var http = node.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/v1/apps", UriKind.Relative))).StatusCode);
        using var range = await http.PostAsync(new Uri("/v3/kv/range", UriKind.Relative), new StringContent("""{"key":"Zm9v"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, range.StatusCode);
    }

    [Fact]
    public async Task Health_answers_on_the_metrics_listener_while_the_http_listener_is_full()
    {
        const int cap = 4;
        await using var node = await TestNode.StartInProcessAsync(output, o => WithMetrics()(o) with { MaxConcurrentConnections = cap });
        var httpEndPoint = ConclaveServer.ToEndPoint(node.HttpUrl);
        var held = new List<Socket>();
        try
        {
            // Connections that send nothing fill the HTTP listener (Kestrel holds them for its keep-alive timeout).
            for (var i = 0; i < cap; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(httpEndPoint);
                held.Add(socket);
            }

            await Eventually.WaitAsync(
                async ct =>
                {
                    using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
                    await probe.ConnectAsync(httpEndPoint, ct);
                    await probe.SendAsync("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray(), ct);
                    if (await probe.ReceiveAsync(new byte[1024], ct) == 0)
                    {
                        return true;
                    }

                    // Answered: a slot was free. The listener counts connections as it gets to them, not in the order
                    // they connected, so a probe can be counted before one of the sockets above, which is then the one
                    // refused (CI saw it). Hold another socket in the slot the probe left.
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                    held.Add(socket);
                    await socket.ConnectAsync(httpEndPoint, ct);
                    return false;
                },
                Eventually.DefaultTimeout,
                "the HTTP listener closes connections past its cap");

            using var metrics = new HttpClient { BaseAddress = new Uri(node.Server.MetricsUrls[0]), Timeout = TimeSpan.FromSeconds(10) };
            using var health = await metrics.GetAsync(new Uri("/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Https_metrics_urls_serve_the_client_listeners_certificate()
    {
        using var certificates = new TestCertificates();
        var member = certificates.IssueMember();
        await using var node = await TestNode.StartInProcessAsync(
            output, o => WithMetrics("https")(o) with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key } }, https: true);
        var metricsUrl = Assert.Single(node.Server.MetricsUrls);
        Assert.StartsWith("https://", metricsUrl, StringComparison.Ordinal);

        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()).Thumbprint == member.Certificate.Thumbprint,
            },
        };
        using var metrics = new HttpClient(handler) { BaseAddress = new Uri(metricsUrl), Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, (await metrics.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_plain_text_metrics_url_off_loopback_needs_insecure_listen()
    {
        using var directory = TempDirectory.Create("conclave-metrics-");
        var options = new ServerOptions
        {
            DataDirectory = directory.Combine("data"),
            ListenClientUrls = ["http://127.0.0.1:0"],
            ListenHttpUrls = ["http://127.0.0.1:0"],
            ListenPeerUrl = "http://127.0.0.1:0",
            ListenMetricsUrls = ["http://0.0.0.0:0"],
        };
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(options, _ => { }));
        Assert.Contains("http://0.0.0.0:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--insecure-listen", refused.Message, StringComparison.Ordinal);

        await using var server = await ConclaveServer.StartAsync(options with { InsecureListen = true }, _ => { });
        using var metrics = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var port = new Uri(server.MetricsUrls[0]).Port;
        Assert.Equal(HttpStatusCode.OK, (await metrics.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).StatusCode);
    }

    [Fact]
    public async Task Conclave_serve_takes_the_flag()
    {
        using var directory = TempDirectory.Create("conclave-metrics-");
        var port = FreePorts.Take(1)[0];
        await using var node = await NodeProcess.StartAsync(
            directory.Combine("data"),
            new NodeProcessOptions { Output = output, ExtraArguments = ["--listen-metrics-urls", $"http://127.0.0.1:{port}"] });
        using var metrics = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, (await metrics.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync(new Uri($"http://127.0.0.1:{port}/api/v1/apps"))).StatusCode);
    }
}

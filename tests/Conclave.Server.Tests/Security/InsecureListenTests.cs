using Conclave.Server.Security;
using Conclave.Server.Tests.Fixtures;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// Secure by default: a member refuses plain-text listeners off loopback (<c>http://</c> client, HTTP and peer URLs)
/// unless started with <c>--insecure-listen</c>, which it then logs at Warning on every start; TLS listeners off loopback
/// need no such flag (https:// peer URLs: PeerTlsTests).
/// </summary>
public sealed class InsecureListenTests : IDisposable
{
    private readonly TempDirectory directory = TempDirectory.Create("conclave-insecure-");

    public void Dispose() => directory.Dispose();

    [Theory]
    [InlineData("client")]
    [InlineData("http")]
    [InlineData("peer")]
    public async Task A_plain_text_listener_off_loopback_is_refused_with_the_way_out(string which)
    {
        var options = Options() with
        {
            ListenClientUrls = [which == "client" ? "http://0.0.0.0:0" : "http://127.0.0.1:0"],
            ListenHttpUrls = [which == "http" ? "http://0.0.0.0:0" : "http://127.0.0.1:0"],
            ListenPeerUrl = which == "peer" ? "http://0.0.0.0:0" : "http://127.0.0.1:0",
        };
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => ConclaveServer.StartAsync(options, _ => { }));
        Assert.Contains("0.0.0.0", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--insecure-listen", refused.Message, StringComparison.Ordinal);
        Assert.Contains("https://", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Insecure_listen_starts_and_warns()
    {
        var logs = new RecordingLoggerProvider();
        var options = Options() with { ListenClientUrls = ["http://0.0.0.0:0"], InsecureListen = true };
        await using var server = await ConclaveServer.StartAsync(options, logging => logging.AddProvider(logs));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("--insecure-listen", StringComparison.Ordinal)
            && e.Message.Contains("0.0.0.0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tls_listeners_off_loopback_need_no_flag()
    {
        using var certificates = new TestCertificates();
        var member = certificates.IssueMember();
        var logs = new RecordingLoggerProvider();
        var options = Options() with
        {
            ListenClientUrls = ["https://0.0.0.0:0"],
            ListenHttpUrls = ["https://0.0.0.0:0"],
            Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key },
        };
        await using var server = await ConclaveServer.StartAsync(options, logging => logging.AddProvider(logs));
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("--insecure-listen", StringComparison.Ordinal));
        var port = new Uri(server.ClientUrls[0]).Port;
        var put = await Etcdctl.RunAsync($"https://127.0.0.1:{port}", "--cacert", certificates.CaFile, "put", "k", "v");
        put.EnsureSuccess();
    }

    private ServerOptions Options() => new()
    {
        Name = "insecure-test",
        DataDirectory = directory.Combine("data-" + Guid.NewGuid().ToString("N")),
        ListenClientUrls = ["http://127.0.0.1:0"],
        ListenHttpUrls = ["http://127.0.0.1:0"],
        ListenPeerUrl = "http://127.0.0.1:0",
    };
}

using System.Net.Sockets;
using Conclave.Server;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>
/// A real single-member Conclave server running inside the test process, on ephemeral loopback ports, with a
/// temporary data directory that is deleted on dispose.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private const int MaxStartAttempts = 3;

    private readonly TempDirectory directory;
    private int disposed;

    internal TestNode(ConclaveServer server, TempDirectory directory)
    {
        Server = server;
        this.directory = directory;
    }

    public ConclaveServer Server { get; }

    /// <summary>gRPC (etcd v3) URL, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Endpoint => Server.ClientUrls[0];

    /// <summary>HTTP/1.1 URL of /health, /metrics and the JSON gateway.</summary>
    public string HttpUrl => Server.HttpUrls[0];

    public string PeerUrl => Server.PeerUrl;

    public string DataDirectory => Server.Node.Options.DataDirectory;

    /// <summary>
    /// Starts a node. <paramref name="configure"/> adjusts the options (<c>o =&gt; o with { MaxRequestBytes = 1024 }</c>);
    /// the name, data directory and listen URLs are set here (<c>https://</c> client and HTTP ones with
    /// <paramref name="https"/>, which needs <see cref="ServerOptions.Tls"/> set by <paramref name="configure"/>; an
    /// <c>https://</c> peer URL with <paramref name="httpsPeer"/>, which needs <see cref="ServerOptions.PeerTls"/>). Logs go
    /// to <paramref name="output"/>, or nowhere.
    /// </summary>
    public static async Task<TestNode> StartInProcessAsync(
        ITestOutputHelper? output = null,
        Func<ServerOptions, ServerOptions>? configure = null,
        CancellationToken cancellationToken = default,
        bool https = false,
        bool httpsPeer = false,
        Action<Microsoft.Extensions.Logging.ILoggingBuilder>? logging = null)
    {
        var scheme = https ? "https" : "http";
        for (var attempt = 1; ; attempt++)
        {
            var directory = TempDirectory.Create("conclave-node-");
            var options = new ServerOptions
            {
                Name = "test-node",
                DataDirectory = directory.Combine("data"),
                ListenClientUrls = [$"{scheme}://127.0.0.1:0"],
                ListenHttpUrls = [$"{scheme}://127.0.0.1:0"],
                ListenPeerUrl = httpsPeer ? "https://127.0.0.1:0" : "http://127.0.0.1:0",
            };
            if (configure is not null)
            {
                options = configure(options) with
                {
                    DataDirectory = options.DataDirectory,
                    ListenClientUrls = options.ListenClientUrls,
                    ListenHttpUrls = options.ListenHttpUrls,
                    ListenPeerUrl = options.ListenPeerUrl,
                };
            }

            try
            {
                var server = await ConclaveServer.StartAsync(
                    options,
                    builder =>
                    {
                        ConfigureLogging(builder, output);
                        logging?.Invoke(builder);
                    },
                    cancellationToken);
                return new TestNode(server, directory);
            }
            catch (Exception e) when (attempt < MaxStartAttempts && IsAddressInUse(e))
            {
                // Port 0 is resolved by probing, so another test may have taken the port in between: try again.
                TestOutput.TryWriteLine(output, $"node start attempt {attempt} lost a port race ({e.Message}); retrying");
                directory.Dispose();
            }
            catch
            {
                directory.Dispose();
                throw;
            }
        }
    }

    /// <summary>A gRPC channel to this node (h2c); the caller disposes it.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(Endpoint);

    /// <summary>An HTTP client whose base address is <see cref="HttpUrl"/>; the caller disposes it.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = new Uri(HttpUrl), Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        try
        {
            await Server.DisposeAsync();
        }
        finally
        {
            directory.Dispose();
        }
    }

    internal static bool IsAddressInUse(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } ||
                x.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    internal static void ConfigureLogging(ILoggingBuilder logging, ITestOutputHelper? output, string prefix = "[node] ")
    {
        logging.ClearProviders();
        if (output is null)
        {
            return;
        }

        logging.AddProvider(new TestOutputLoggerProvider(output, prefix));
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
        logging.AddFilter("DotNext", LogLevel.Warning);
    }
}

using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Tests.Diagnostics;

/// <summary>
/// Requests whose bytes do not decode cost one Debug line each and a count in /metrics, never a Warning or an
/// Error with a stack trace (which let any client fill a member's log), and the caller gets gRPC's own answer.
/// </summary>
public sealed class MalformedRequestTests(ITestOutputHelper output)
{
    private const int N = 12;

    // Field 1 (key), length-delimited, claiming 127 bytes that never come: protobuf's "truncated message".
    private static readonly byte[] Garbage = [0x0A, 0x7F, 0x01, 0x02];

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);

    [Fact]
    public async Task Malformed_requests_are_counted_and_logged_once_at_debug_without_stack_traces()
    {
        var log = new RecordingLoggerProvider();
        await using var server = await StartAsync(log);
        using var channel = GrpcChannel.ForAddress(server.ClientUrls[0]);
        var put = new Method<byte[], byte[]>(MethodType.Unary, "etcdserverpb.KV", "Put", Raw, Raw);
        var grant = new Method<byte[], byte[]>(MethodType.Unary, "etcdserverpb.Lease", "LeaseGrant", Raw, Raw);
        var putBefore = await MalformedAsync(server, "Put");
        var grantBefore = await MalformedAsync(server, "LeaseGrant");

        var logged = log.Entries.Count;
        var statuses = new List<Status>();
        for (var i = 0; i < N; i++)
        {
            var method = i % 2 == 0 ? put : grant;
            var e = await Assert.ThrowsAsync<RpcException>(() => channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)), Garbage).ResponseAsync);
            statuses.Add(e.Status);
        }

        Assert.All(statuses, s => Assert.Equal(StatusCode.Internal, s.StatusCode));
        Assert.All(statuses, s => Assert.StartsWith("grpc: error unmarshalling request: ", s.Detail, StringComparison.Ordinal));
        Assert.Equal(putBefore + (N / 2), await MalformedAsync(server, "Put"));
        Assert.Equal(grantBefore + (N / 2), await MalformedAsync(server, "LeaseGrant"));
        var entries = log.Entries.Skip(logged).ToList();
        foreach (var entry in entries.Where(e => e.Level >= LogLevel.Information))
        {
            output.WriteLine($"{entry.Level} {entry.Category} {entry.EventId}: {entry.Message}");
        }

        Assert.DoesNotContain(entries, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(entries, e => e.Exception is not null);
        Assert.Equal(N, entries.Count(e => e.Level == LogLevel.Debug && e.EventId.Id == 3301));
    }

    private static async Task<double> MalformedAsync(DisposableServer server, string method) =>
        await Metrics.ReadAsync(server.HttpUrls[0], $"conclave_grpc_malformed_requests_total{{method=\"{method}\"}}") ?? 0;

    private static async Task<DisposableServer> StartAsync(RecordingLoggerProvider log)
    {
        var directory = TempDirectory.Create("conclave-malformed-");
        try
        {
            var server = await ConclaveServer.StartAsync(
                new ServerOptions
                {
                    Name = "malformed",
                    DataDirectory = directory.Combine("data"),
                    ListenClientUrls = ["http://127.0.0.1:0"],
                    ListenHttpUrls = ["http://127.0.0.1:0"],
                    ListenPeerUrl = "http://127.0.0.1:0",
                },
                logging =>
                {
                    logging.ClearProviders();
                    logging.AddProvider(log);
                    logging.SetMinimumLevel(LogLevel.Debug);
                });
            return new DisposableServer(server, directory);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    private sealed class DisposableServer(ConclaveServer server, TempDirectory directory) : IAsyncDisposable
    {
        public IReadOnlyList<string> ClientUrls => server.ClientUrls;

        public IReadOnlyList<string> HttpUrls => server.HttpUrls;

        public async ValueTask DisposeAsync()
        {
            await server.DisposeAsync();
            directory.Dispose();
        }
    }
}

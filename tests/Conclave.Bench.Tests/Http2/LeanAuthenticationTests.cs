using Conclave.Api.Etcd;
using Google.Protobuf;
using static Conclave.Bench.Tests.Http2.ScriptedConnection;

namespace Conclave.Bench.Tests.Http2;

/// <summary>
/// <c>--user</c> on the lean transport against a scripted server: what goes on the wire before and after the
/// connection authenticates.
/// </summary>
public sealed class LeanAuthenticationTests : IDisposable
{
    private readonly ScriptedH2Server _server = ScriptedH2Server.Start();

    private BenchSettings Settings => new([_server.Endpoint], Conns: 1, Clients: 1, Total: 1, Duration: null, KeySize: 8, ValueSize: 8, Json: true)
    {
        Credentials = BenchCredentials.Parse("bench:pw:with:colons"),
    };

    [Fact]
    public async Task The_connection_authenticates_once_then_every_request_carries_its_token()
    {
        var opening = BenchConnections.OpenAsync(Settings, CancellationToken.None);
        using var connection = await _server.AcceptAsync();

        var authenticate = await connection.ReadRequestAsync();
        Assert.Equal("/etcdserverpb.Auth/Authenticate", authenticate.Header(":path"));
        Assert.DoesNotContain(authenticate.Headers, h => h.Name == "token");
        var credentials = AuthenticateRequest.Parser.ParseFrom(authenticate.Message());
        Assert.Equal(("bench", "pw:with:colons"), (credentials.Name, credentials.Password));
        await RespondAsync(connection, authenticate.StreamId, new AuthenticateResponse { Token = "tok.7" });
        using var connections = await opening;

        // Two calls of one method share the cached header block; a call of another method gets its own. All carry the token.
        foreach (var method in new[] { "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put" })
        {
            var call = method.EndsWith("Put", StringComparison.Ordinal)
                ? (Task)connections.Kv[0].PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("k") }).ResponseAsync
                : connections.Kv[0].RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("k") }).ResponseAsync;
            var request = await connection.ReadRequestAsync();
            Assert.Equal(method, request.Header(":path"));
            Assert.Equal("tok.7", request.Header("token"));
            Assert.Equal("http", request.Header(":scheme"));
            await RespondAsync(connection, request.StreamId, method.EndsWith("Put", StringComparison.Ordinal) ? new PutResponse() : new RangeResponse());
            await call;
        }
    }

    [Fact]
    public async Task A_refused_password_fails_the_run_naming_the_endpoint_and_the_user()
    {
        var opening = BenchConnections.OpenAsync(Settings, CancellationToken.None);
        using var connection = await _server.AcceptAsync();
        var authenticate = await connection.ReadRequestAsync();
        await connection.SendAsync(Frame(
            FrameType.Headers,
            FrameFlags.EndHeaders | FrameFlags.EndStream,
            authenticate.StreamId,
            new TestHpackEncoder().Indexed(8).NeverIndexed("grpc-status", "3").NeverIndexed("grpc-message", "etcdserver: authentication failed, invalid user ID or password").ToArray()));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => opening);
        Assert.Equal($"{_server.Endpoint}: authenticating as 'bench' failed: etcdserver: authentication failed, invalid user ID or password", e.Message);
        Assert.DoesNotContain("pw:with:colons", e.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _server.Dispose();

    private static Task RespondAsync(ScriptedConnection connection, int streamId, IMessage message) =>
        connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, streamId, new TestHpackEncoder().Indexed(8).NeverIndexed("content-type", "application/grpc").ToArray()),
            Frame(FrameType.Data, 0, streamId, GrpcMessage(message)),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streamId, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));
}

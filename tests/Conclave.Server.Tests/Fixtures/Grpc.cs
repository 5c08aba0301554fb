using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Tests.Fixtures;

/// <summary>Raw etcd v3 gRPC requests through Conclave's own generated stubs.</summary>
internal static class Grpc
{
    public static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    public static Task<PutResponse> PutAsync(KV.KVClient kv, string key, string value) =>
        kv.PutAsync(new PutRequest { Key = Bytes(key), Value = Bytes(value) }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync;

    /// <summary>Runs <paramref name="call"/> and returns the status it failed with.</summary>
    public static async Task<Status> FailureAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        return e.Status;
    }
}

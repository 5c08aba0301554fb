using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// <c>--max-pending-response-bytes</c>: large read responses a member holds until their clients take them are bounded.
/// Before, 16 full ranges over 95 MiB of state that one client opened on one connection and never read took the member
/// from 333 MiB to 1.9 GiB. Past the bound a large read (gRPC or the JSON gateway) is refused at once with etcd's "too
/// many requests"; small reads go on, and large ones are served again once the pending response is gone.
/// </summary>
public sealed class LargeResponseTests(ITestOutputHelper output)
{
    private const int Mib = 1024 * 1024;

    [Fact]
    public async Task A_large_read_past_the_bound_is_refused_while_an_unread_one_is_pending()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxPendingResponseBytes = 3 * Mib });
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        for (var i = 0; i < 2; i++)
        {
            await kv.PutAsync(new PutRequest { Key = Fixtures.Grpc.Bytes($"big/{i}"), Value = ByteString.CopyFrom(new byte[Mib]) });
        }

        await Fixtures.Grpc.PutAsync(kv, "small", "v");
        var everything = new RangeRequest { Key = Fixtures.Grpc.Bytes("big/"), RangeEnd = Fixtures.Grpc.Bytes("big0") };

        // A client that asks for 2 MiB and reads nothing: its flow-control window holds the response in the member.
        using var unread = new HttpClient();
        using var pending = await SendUnreadAsync(unread, node.Endpoint, everything);

        var refused = await Assert.ThrowsAsync<RpcException>(() => kv.RangeAsync(everything).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal("etcdserver: too many requests", refused.Status.Detail);
        Assert.Contains("bytes of large responses are waiting for their clients", refused.Trailers.GetValue(ErrorCatalogue.DetailTrailer), StringComparison.Ordinal);
        Assert.Contains($"the limit of {3 * Mib} (--max-pending-response-bytes)", refused.Trailers.GetValue(ErrorCatalogue.DetailTrailer), StringComparison.Ordinal);

        // The JSON gateway counts against the same bound.
        using var http = node.CreateHttpClient();
        using (var gateway = await http.PostAsync(
            new Uri("/v3/kv/range", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { key = Convert.ToBase64String("big/"u8), range_end = Convert.ToBase64String("big0"u8) }), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, gateway.StatusCode);
            Assert.Contains("--max-pending-response-bytes", await gateway.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Small reads are not counted, and the member is healthy.
        Assert.Equal("v", (await kv.RangeAsync(new RangeRequest { Key = Fixtures.Grpc.Bytes("small") })).Kvs[0].Value.ToStringUtf8());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);

        // Once the unread response is gone, large reads are served again.
        pending.Dispose();
        unread.CancelPendingRequests();
        await Eventually.WaitAsync(
            async ct =>
            {
                try
                {
                    return (await kv.RangeAsync(everything, cancellationToken: ct)).Kvs.Count == 2;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    return false;
                }
            },
            Eventually.DefaultTimeout,
            "a large read is served once the pending one is gone");
    }

    /// <summary>Sends a Range over HTTP/2 and returns once the response has begun, without reading its body.</summary>
    private static async Task<HttpResponseMessage> SendUnreadAsync(HttpClient client, string endpoint, RangeRequest range)
    {
        var message = range.ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint + "/etcdserverpb.KV/Range")
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }
}

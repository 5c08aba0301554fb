using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// Maintenance snapshots sent at once are bounded (<see cref="ServerOptions.MaxConcurrentSnapshots"/>): each holds an
/// image of the whole state while its client reads, so before the bound 16 streams that read one chunk each took a
/// member with 95 MiB of state to 3.2 GiB. One past the bound is refused at once with etcd's "too many requests", and
/// served again once a snapshot ends.
/// </summary>
public sealed class SnapshotLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_snapshot_past_the_bound_is_refused_until_one_ends()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxConcurrentSnapshots = 1 });
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        // More than the stream's flow-control window, so a snapshot whose client stops reading stays in progress.
        var value = ByteString.CopyFrom(new byte[1024 * 1024]);
        for (var i = 0; i < 4; i++)
        {
            await kv.PutAsync(new PutRequest { Key = Fixtures.Grpc.Bytes($"big/{i}"), Value = value });
        }

        var maintenance = new Api.Etcd.Maintenance.MaintenanceClient(channel);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var first = maintenance.Snapshot(new SnapshotRequest(), cancellationToken: stop.Token);
        Assert.True(await first.ResponseStream.MoveNext(stop.Token));

        var refused = await Assert.ThrowsAsync<RpcException>(() => ReadAllAsync(maintenance, stop.Token));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal("etcdserver: too many requests", refused.Status.Detail);
        Assert.Equal("1 snapshots are being sent by this member; the limit is 1 at once", refused.Trailers.GetValue(ErrorCatalogue.DetailTrailer));

        // Meanwhile the member serves others.
        await Fixtures.Grpc.PutAsync(kv, "other", "v");
        using (var http = node.CreateHttpClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
        }

        first.Dispose();
        await Eventually.WaitAsync(
            async ct =>
            {
                try
                {
                    return await ReadAllAsync(maintenance, ct) > 4 * 1024 * 1024;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
                {
                    return false;
                }
            },
            Eventually.DefaultTimeout,
            "a snapshot is sent once the first one has ended");
    }

    /// <summary>
    /// A snapshot is spooled to a file of the data directory that is unlinked once open, not held in memory: while a
    /// client has read only the first chunk, the data directory shows no spool file (a crash leaves none), the image is
    /// whole and checks against its SHA-256 when read to the end, and compaction is not held back by the slow reader.
    /// </summary>
    [Fact]
    public async Task A_snapshot_is_spooled_to_an_unlinked_file_and_a_slow_reader_holds_nothing_back()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var value = ByteString.CopyFrom(new byte[256 * 1024]);
        for (var i = 0; i < 16; i++)
        {
            await kv.PutAsync(new PutRequest { Key = Fixtures.Grpc.Bytes($"big/{i}"), Value = value });
        }

        var maintenance = new Api.Etcd.Maintenance.MaintenanceClient(channel);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        using (var slow = maintenance.Snapshot(new SnapshotRequest(), cancellationToken: stop.Token))
        {
            Assert.True(await slow.ResponseStream.MoveNext(stop.Token));
            Assert.Empty(Directory.GetFiles(node.DataDirectory, "snapshot-send-*", SearchOption.AllDirectories));

            // The capture is written and released before the client reads: a compaction goes through at once.
            var revision = (await kv.PutAsync(new PutRequest { Key = Fixtures.Grpc.Bytes("after"), Value = value })).Header.Revision;
            var compact = kv.CompactAsync(new CompactionRequest { Revision = revision }, cancellationToken: stop.Token).ResponseAsync;
            Assert.Same(compact, await Task.WhenAny(compact, Task.Delay(TimeSpan.FromSeconds(10), stop.Token)));
        }

        // A whole one: the image is followed by its SHA-256.
        using var call = maintenance.Snapshot(new SnapshotRequest(), cancellationToken: stop.Token);
        using var image = new MemoryStream();
        while (await call.ResponseStream.MoveNext(stop.Token))
        {
            call.ResponseStream.Current.Blob.WriteTo(image);
        }

        var bytes = image.ToArray();
        Assert.True(bytes.Length > 16 * 256 * 1024);
        Assert.Equal(0, (bytes.Length - 32) % 512);
        Assert.Equal(bytes[^32..], System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)));
        Assert.Empty(Directory.GetFiles(node.DataDirectory, "snapshot-send-*", SearchOption.AllDirectories));
    }

    /// <summary>Reads a whole snapshot; returns its bytes.</summary>
    private static async Task<long> ReadAllAsync(Api.Etcd.Maintenance.MaintenanceClient maintenance, CancellationToken cancellationToken)
    {
        using var call = maintenance.Snapshot(new SnapshotRequest(), cancellationToken: cancellationToken);
        long bytes = 0;
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            bytes += call.ResponseStream.Current.Blob.Length;
        }

        return bytes;
    }
}

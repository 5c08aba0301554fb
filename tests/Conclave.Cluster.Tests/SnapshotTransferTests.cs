using System.Net;
using System.Net.Sockets;
using Conclave.Cluster.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The snapshot channel of ADR 0010: its two hand-written parsers (descriptor and fetch request) against random and
/// mutated bytes, a real fetch over a peer listener (from the start, from an offset, of an image not held, and a
/// stranger's garbage), and the lagging member's download resuming after an interruption and refusing a corrupt image.
/// </summary>
public sealed class SnapshotTransferTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("conclave-snapxfer-").FullName;
    private readonly ClusterMetrics metrics = new(static () => 0, static () => 0, static () => 0);

    public void Dispose()
    {
        metrics.Dispose();
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void The_parsers_take_only_what_they_wrote()
    {
        var descriptor = new SnapshotDescriptor(1234, 5, 1 << 20, 0xfeedface, 77);
        var bytes = new byte[SnapshotDescriptor.Size];
        descriptor.Write(bytes);
        Assert.True(descriptor.SameImage(SnapshotDescriptor.Parse(bytes)));
        var request = new byte[SnapshotTransfer.RequestSize];
        var fetch = new SnapshotFetch(1234, 5, 0xfeedface, 4096, 77);
        SnapshotTransfer.WriteRequest(request, fetch);
        Assert.Equal(fetch, SnapshotTransfer.ParseRequest(request));

        // Random and mutated bytes: a descriptor parses or fails with InvalidDataException, a request parses or is null.
        var random = new Random(19);
        for (var i = 0; i < 100_000; i++)
        {
            var d = (byte[])bytes.Clone();
            var r = (byte[])request.Clone();
            if (i % 2 == 0)
            {
                random.NextBytes(d);
                random.NextBytes(r);
            }
            else
            {
                d[random.Next(d.Length)] ^= (byte)(1 << random.Next(8));
                r[random.Next(r.Length)] ^= (byte)(1 << random.Next(8));
            }

            try
            {
                var parsed = SnapshotDescriptor.Parse(d);
                Assert.True(parsed.Index >= 1 && parsed.FileLength >= SnapshotFile.HeaderSize + SnapshotFile.TrailerSize);
            }
            catch (InvalidDataException)
            {
            }

            if (SnapshotTransfer.ParseRequest(r) is { } parsedRequest)
            {
                Assert.True(parsedRequest.Index >= 1 && parsedRequest.Offset >= 0);
            }
        }

        Assert.Throws<InvalidDataException>(() => SnapshotDescriptor.Parse(bytes.AsSpan(0, 55)));
        Assert.Null(SnapshotTransfer.ParseRequest(request.AsSpan(0, 47)));
    }

    [Fact]
    public async Task A_member_serves_the_image_it_holds_from_any_offset_over_the_peer_listener()
    {
        var (machine, file) = await HolderAsync();
        await using var _ = machine;
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var server = ServeAsync(listener, machine, stop.Token);
        var expected = await File.ReadAllBytesAsync(file.Path);
        var descriptor = SnapshotDescriptor.Of(file, 1);

        Assert.Equal(expected, await FetchAllAsync(listener.LocalEndPoint, descriptor, 0));
        Assert.Equal(expected[1000..], await FetchAllAsync(listener.LocalEndPoint, descriptor, 1000));
        Assert.Empty(await FetchAllAsync(listener.LocalEndPoint, descriptor, expected.Length));

        var other = new SnapshotDescriptor(file.Index, file.Term, file.FileLength, file.Hash ^ 1, 1);
        await Assert.ThrowsAsync<SnapshotGoneException>(() => FetchAllAsync(listener.LocalEndPoint, other, 0));

        // A stranger on the snapshot channel: garbage gets "bad request" and the connection ends; the server goes on.
        await using (var stranger = await PeerConnector.Plain.OpenAsync(listener.LocalEndPoint, PeerChannel.Snapshot, CancellationToken.None))
        {
            await stranger.WriteAsync(new byte[SnapshotTransfer.RequestSize]);
            var answer = new byte[64];
            var read = 0;
            for (int n; (n = await stranger.ReadAsync(answer.AsMemory(read))) > 0;)
            {
                read += n;
            }

            Assert.Equal(SnapshotTransfer.ResponseHeaderSize, read);
            Assert.Equal(SnapshotTransfer.BadRequest, answer[0]);
        }

        Assert.Equal(expected, await FetchAllAsync(listener.LocalEndPoint, descriptor, 0));
        await stop.CancelAsync();
        await server;
    }

    [Fact]
    public async Task Images_beyond_the_cap_are_answered_busy_and_served_once_a_stream_ends()
    {
        // An image far larger than what the sockets buffer, so a fetch that stops reading holds its stream.
        var (machine, file) = await HolderAsync(keys: 100_000);
        await using var _ = machine;
        await using var listener = PeerListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var server = ServeAsync(listener, machine, stop.Token, maxConcurrent: 1);
        var expected = await File.ReadAllBytesAsync(file.Path);
        var descriptor = SnapshotDescriptor.Of(file, 1);
        var request = new byte[SnapshotTransfer.RequestSize];
        SnapshotTransfer.WriteRequest(request, new SnapshotFetch(descriptor.Index, descriptor.Term, descriptor.Hash, 0, 3));

        // A silent connection holds no slot: a fetch meanwhile is served.
        await using (await PeerConnector.Plain.OpenAsync(listener.LocalEndPoint, PeerChannel.Snapshot, CancellationToken.None))
        {
            Assert.Equal(expected, await FetchAllAsync(listener.LocalEndPoint, descriptor, 0));
        }

        // One fetch holds the only slot: it has its answer and the first bytes, and reads nothing more for now.
        var holder = await PeerConnector.Plain.OpenAsync(listener.LocalEndPoint, PeerChannel.Snapshot, CancellationToken.None);
        try
        {
            await holder.WriteAsync(request);
            var header = new byte[SnapshotTransfer.ResponseHeaderSize];
            for (var read = 0; read < header.Length;)
            {
                read += await holder.ReadAsync(header.AsMemory(read));
            }

            Assert.Equal(SnapshotTransfer.Ok, header[0]);

            // A second fetch meanwhile is answered "busy": no bytes, and nothing thrown (the fetching member retries).
            await using (var second = await PeerConnector.Plain.OpenAsync(listener.LocalEndPoint, PeerChannel.Snapshot, CancellationToken.None))
            {
                await second.WriteAsync(request);
                var answer = new byte[64];
                var read = 0;
                for (int n; (n = await second.ReadAsync(answer.AsMemory(read))) > 0;)
                {
                    read += n;
                }

                Assert.Equal(SnapshotTransfer.ResponseHeaderSize, read);
                Assert.Equal(SnapshotTransfer.Busy, answer[0]);
            }

            Assert.Empty(await FetchAllAsync(listener.LocalEndPoint, descriptor, 0));
        }
        finally
        {
            await holder.DisposeAsync();
        }

        // The slot is free once the held stream ends (its connection closed): the next fetch gets the whole image.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var fetched = await FetchAllAsync(listener.LocalEndPoint, descriptor, 0);
        while (fetched.Length == 0)
        {
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), "no fetch was served after the held stream ended");
            await Task.Delay(50);
            fetched = await FetchAllAsync(listener.LocalEndPoint, descriptor, 0);
        }

        Assert.Equal(expected, fetched);
        await stop.CancelAsync();
        await server;
    }

    [Fact]
    public async Task A_download_resumes_where_it_stopped_and_refuses_a_corrupt_image()
    {
        var (machine, file) = await HolderAsync();
        await using var _ = machine;
        var image = await File.ReadAllBytesAsync(file.Path);
        var descriptor = SnapshotDescriptor.Of(file, 1);
        var offsets = new List<long>();
        var corrupt = false;

        // The source drops the stream after 100 KiB the first time; the second time it sends the rest.
        async IAsyncEnumerable<(long, ReadOnlyMemory<byte>)> Source(SnapshotDescriptor d, long offset, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken token)
        {
            offsets.Add(offset);
            var end = offsets.Count == 1 ? Math.Min(image.Length, offset + 100 * 1024) : image.Length;
            for (var at = offset; at < end; at += 8192)
            {
                var chunk = image.AsMemory((int)at, (int)Math.Min(8192, end - at)).ToArray();
                if (corrupt && at == offset)
                {
                    chunk[0] ^= 0xff;
                }

                yield return (at, chunk);
                await Task.Yield();
            }
        }

        var incoming = Path.Combine(root, "incoming");
        await using (var catchUp = new SnapshotCatchUp(incoming, Source, null, NullLogger.Instance, metrics, TimeProvider.System))
        {
            var path = await Eventually(() => catchUp.TryTakeAsync(descriptor, TimeSpan.FromMilliseconds(50), CancellationToken.None));
            Assert.Equal([0L, 100 * 1024L], offsets);
            Assert.Equal(image, await File.ReadAllBytesAsync(path));
        }

        // A corrupt byte fails the check: nothing is offered, the caller is told the fetch failed, and the partial file is gone.
        corrupt = true;
        offsets.Clear();
        var descriptor2 = new SnapshotDescriptor(file.Index + 1, file.Term, file.FileLength, file.Hash, 1);
        await using (var catchUp = new SnapshotCatchUp(Path.Combine(root, "incoming2"), Source, null, NullLogger.Instance, metrics, TimeProvider.System))
        {
            SnapshotNotReadyException? failed = null;
            for (var i = 0; i < 200 && failed is null; i++)
            {
                try
                {
                    Assert.Null(await catchUp.TryTakeAsync(descriptor2, TimeSpan.FromMilliseconds(50), CancellationToken.None));
                }
                catch (SnapshotNotReadyException e)
                {
                    failed = e;
                }
            }

            Assert.NotNull(failed?.Failure);
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "incoming2"), "*.part"));
        }
    }

    [Fact]
    public async Task A_download_continues_from_another_member_offering_the_same_image()
    {
        var (machine, file) = await HolderAsync();
        await using var _ = machine;
        var image = await File.ReadAllBytesAsync(file.Path);
        var asked = new List<(ulong Source, long Offset)>();

        // Member 1 dies after 100 KiB (every later attempt fails to connect); member 2 holds the same image.
        async IAsyncEnumerable<(long, ReadOnlyMemory<byte>)> Source(SnapshotDescriptor d, long offset, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken token)
        {
            lock (asked)
            {
                asked.Add((d.Source, offset));
            }

            if (d.Source == 1 && offset > 0)
            {
                throw new IOException("connection refused");
            }

            var end = d.Source == 1 ? 100 * 1024 : image.Length;
            for (var at = offset; at < end; at += 8192)
            {
                yield return (at, image.AsMemory((int)at, (int)Math.Min(8192, end - at)).ToArray());
                await Task.Yield();
            }
        }

        await using var catchUp = new SnapshotCatchUp(Path.Combine(root, "incoming"), Source, null, NullLogger.Instance, metrics, TimeProvider.System);
        Assert.Null(await catchUp.TryTakeAsync(SnapshotDescriptor.Of(file, 1), TimeSpan.FromMilliseconds(300), CancellationToken.None));
        var path = await Eventually(() => catchUp.TryTakeAsync(SnapshotDescriptor.Of(file, 2), TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.Equal(image, await File.ReadAllBytesAsync(path));
        lock (asked)
        {
            Assert.Equal((1UL, 0L), asked[0]);
            Assert.Contains((2UL, 100 * 1024L), asked);
            Assert.DoesNotContain(asked, a => a.Source == 2 && a.Offset == 0);
        }
    }

    [Fact]
    public async Task A_download_whose_image_is_gone_says_so_instead_of_waiting_forever()
    {
        var (machine, file) = await HolderAsync();
        await using var _ = machine;
        var image = await File.ReadAllBytesAsync(file.Path);

        // Member 1 took a newer snapshot and deleted this image before the fetch began; member 2 holds a newer one.
        async IAsyncEnumerable<(long, ReadOnlyMemory<byte>)> Source(SnapshotDescriptor d, long offset, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken token)
        {
            if (d.Source == 1)
            {
                throw new SnapshotGoneException($"the member no longer holds {d}");
            }

            for (var at = offset; at < image.Length; at += 8192)
            {
                yield return (at, image.AsMemory((int)at, (int)Math.Min(8192, image.Length - at)).ToArray());
                await Task.Yield();
            }
        }

        await using var catchUp = new SnapshotCatchUp(Path.Combine(root, "incoming"), Source, null, NullLogger.Instance, metrics, TimeProvider.System);
        var gone = new SnapshotDescriptor(file.Index - 1, file.Term, file.FileLength, file.Hash ^ 1, 1);
        SnapshotNotReadyException? failed = null;
        for (var i = 0; i < 200 && failed is null; i++)
        {
            try
            {
                Assert.Null(await catchUp.TryTakeAsync(gone, TimeSpan.FromMilliseconds(50), CancellationToken.None));
            }
            catch (SnapshotNotReadyException e)
            {
                failed = e;
            }
        }

        Assert.NotNull(failed);
        Assert.Contains("no longer holds", failed.Failure);

        // A description of another image (what the caller gets when it asks the leader again) starts a new fetch at once.
        var path = await Eventually(() => catchUp.TryTakeAsync(SnapshotDescriptor.Of(file, 2), TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.Equal(image, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task A_described_image_is_kept_when_a_newer_snapshot_follows_before_the_fetch_begins()
    {
        var (machine, file) = await HolderAsync();
        await using var _ = machine;
        var described = machine.DescribeRetained(file.Index, hold: true);
        Assert.Equal(file.Index, described.Index);

        // A newer snapshot becomes this member's before the peer's first fetch request arrives.
        using (var image = new SnapshotBuffer())
        {
            new RecordingStateMachine().WriteSnapshot(image);
            await machine.InstallAsync(SnapshotFile.Write(Path.Combine(root, "snap"), file.Index + 500, 1, image));
        }

        Assert.Equal(file.Index + 500, machine.Snapshot!.Index);
        await machine.ReclaimGarbageAsync(file.Index + 500, CancellationToken.None);
        Assert.True(File.Exists(file.Path), "the described image was deleted before the peer could fetch it");
        Assert.Equal(file.Index, machine.CompactionIndex);
        using var lease = machine.TryServe(described.Index, described.Term, described.Hash);
        Assert.NotNull(lease);
    }

    private static async Task<string> Eventually(Func<ValueTask<string?>> take)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (await take() is { } path)
            {
                return path;
            }
        }

        throw new TimeoutException("the download did not finish in 20 s");
    }

    private async Task<(SnapshottingStateMachine Machine, SnapshotFile File)> HolderAsync(int keys = 2000)
    {
        var state = new RecordingStateMachine();
        for (var i = 1; i <= keys; i++)
        {
            var batch = new Conclave.Api.Raft.CommandBatch { FormatVersion = 1 };
            batch.Commands.Add(RecordingStateMachine.Put($"key-{i:D6}-{new string('v', 200)}"));
            state.Apply(i, 1, Google.Protobuf.MessageExtensions.ToByteArray(batch));
        }

        var directory = Path.Combine(root, "snap");
        Directory.CreateDirectory(directory);
        using (var image = new SnapshotBuffer())
        {
            state.WriteSnapshot(image);
            SnapshotFile.Write(directory, keys, 1, image);
        }

        var machine = LonelyAdapter.Create(new RecordingStateMachine(), directory, metrics);
        machine.RestoreLatest();
        await Task.CompletedTask;
        return (machine, machine.Snapshot!);
    }

    private Task ServeAsync(PeerListener listener, SnapshottingStateMachine machine, CancellationToken token, int maxConcurrent = SnapshotServer.DefaultMaxConcurrent) =>
        new SnapshotServer(listener.SnapshotConnections, machine, metrics, NullLogger.Instance, TimeSpan.FromSeconds(5), maxConcurrent: maxConcurrent).RunAsync(token);

    private static async Task<byte[]> FetchAllAsync(EndPoint peer, SnapshotDescriptor descriptor, long offset)
    {
        var received = new MemoryStream();
        await foreach (var (at, data) in SnapshotTransfer.FetchAsync(PeerConnector.Plain, peer, descriptor, offset, 2, TimeProvider.System, CancellationToken.None))
        {
            Assert.Equal(offset + received.Length, at);
            received.Write(data.Span);
        }

        return received.ToArray();
    }
}

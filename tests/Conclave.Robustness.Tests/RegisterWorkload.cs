using Conclave.Api.Etcd;
using Conclave.Testing.Linearizability;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Clients doing linearizable get, put and compare-and-set (a txn on the value) on a few shared keys through
/// every member, recorded for the linearizability checker. A write that fails after it may have been sent is an
/// unknown outcome (it may take effect at any later time, or never); a read that fails carries no information.
/// </summary>
internal sealed class RegisterWorkload : IAsyncDisposable
{
    /// <summary>
    /// Pause after a failed operation before the next, as a real client backs off. Without it a client whose member
    /// is down records thousands of instantly failed operations a second: one leader-kill run recorded 183,285
    /// (9,000 per key), mostly unknown-outcome writes that stay open to the end of the history, and the checker's
    /// search ran out of its minute (CI, sixth session, native build).
    /// </summary>
    private static readonly TimeSpan BackOff = TimeSpan.FromMilliseconds(20);

    private readonly GrpcChannel[] channels;
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> clients = [];
    private readonly int keys;

    public RegisterWorkload(IReadOnlyList<string> endpoints, int clientCount, int keyCount, Func<string, GrpcChannel>? connect = null)
    {
        keys = keyCount;
        channels = [.. endpoints.Select(connect ?? (static e => GrpcChannel.ForAddress(e)))];
        for (var c = 0; c < clientCount; c++)
        {
            var client = c;
            clients.Add(Task.Run(() => RunAsync(client)));
        }
    }

    public HistoryRecorder Recorder { get; } = new();

    private async Task RunAsync(int client)
    {
        var random = new Random(client * 7919);
        var member = client % channels.Length;
        var lastRead = new Dictionary<string, string?>();
        for (var seq = 0; !stop.IsCancellationRequested; seq++)
        {
            var key = $"reg/{random.Next(keys):D2}";
            var kv = new KV.KVClient(channels[member]);
            var roll = random.Next(10);
            var value = $"c{client}-{seq}";
            // A swap compares with what this client last read of the key, so that some swaps succeed.
            var input = roll < 5 ? RegisterInput.Get()
                : roll < 8 ? RegisterInput.Put(value)
                : RegisterInput.CompareAndSet(lastRead.GetValueOrDefault(key), value);
            var op = Recorder.Begin(client, key, input);

            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(3);
                switch (input.Kind)
                {
                    case RegisterOperationKind.Get:
                        var got = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key) }, deadline: deadline, cancellationToken: stop.Token);
                        var read = got.Kvs.Count == 0 ? null : got.Kvs[0].Value.ToStringUtf8();
                        lastRead[key] = read;
                        op.Ok(RegisterOutput.Read(read));
                        break;
                    case RegisterOperationKind.Put:
                        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) }, deadline: deadline, cancellationToken: stop.Token);
                        op.Ok(RegisterOutput.Done);
                        break;
                    default:
                        var txn = new TxnRequest();
                        var expected = input.Expected;
                        txn.Compare.Add(expected is null
                            ? new Compare { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 }
                            : new Compare { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = ByteString.CopyFromUtf8(expected) });
                        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } });
                        var answer = await kv.TxnAsync(txn, deadline: deadline, cancellationToken: stop.Token);
                        op.Ok(RegisterOutput.Swapped(answer.Succeeded));
                        break;
                }
            }
            catch (RpcException)
            {
                op.Unknown();
                member = (member + 1) % channels.Length;
                try
                {
                    await Task.Delay(BackOff, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                op.Unknown();
                return;
            }
        }
    }

    public async Task StopAsync()
    {
        await stop.CancelAsync();
        await Task.WhenAll(clients);
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

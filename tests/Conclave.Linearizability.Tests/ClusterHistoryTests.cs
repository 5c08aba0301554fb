using Conclave.Client;
using Conclave.Testing;
using Conclave.Testing.Linearizability;
using Xunit.Abstractions;

namespace Conclave.Linearizability.Tests;

/// <summary>A real three-member cluster under concurrent put/get/delete/compare-and-set from clients on different members.</summary>
public sealed class ClusterHistoryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Concurrent_clients_on_different_members_produce_a_linearizable_history()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var cluster = await TestCluster.StartAsync(3, output, cancellationToken: cts.Token);
        var recorder = new HistoryRecorder();
        string[] keys = ["/lin/a", "/lin/b", "/lin/c"];

        // Six clients, two pinned to each member, so reads, forwarded writes and read barriers all run on followers too.
        var clients = Enumerable.Range(0, 6).Select(c => new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = [cluster.Endpoints[c % 3]],
            RequestTimeout = TimeSpan.FromSeconds(5),
        })).ToArray();
        try
        {
            await Task.WhenAll(clients.Select((client, c) => RunClientAsync(client, c, keys, recorder, operations: 60, cts.Token)));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        var history = recorder.History();
        var result = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(30));
        output.WriteLine($"{history.Count} operations, {history.Count(o => o.Outcome != OperationOutcome.Ok)} not ok: {result.Verdict}");
        Assert.True(result.IsLinearizable, result.Report);
    }

    private static async Task RunClientAsync(ConclaveClient client, int clientId, string[] keys, HistoryRecorder recorder, int operations, CancellationToken cancellationToken)
    {
        var random = new Random(clientId);
        string? lastSeen = null;
        for (var i = 0; i < operations; i++)
        {
            var key = keys[random.Next(keys.Length)];
            var value = $"c{clientId}-{i}";
            switch (random.Next(10))
            {
                case < 4:
                    {
                        var op = recorder.Begin(clientId, key, RegisterInput.Get());
                        try
                        {
                            var read = await client.GetAsync(key, cancellationToken: cancellationToken);
                            lastSeen = read.First?.ValueString;
                            op.Ok(RegisterOutput.Read(lastSeen));
                        }
                        catch (ConclaveException)
                        {
                            op.Fail();
                        }

                        break;
                    }

                case < 7:
                    await WriteAsync(recorder.Begin(clientId, key, RegisterInput.Put(value)), async () => await client.PutAsync(key, value, cancellationToken: cancellationToken), RegisterOutput.Done);
                    break;
                case < 8:
                    await WriteAsync(recorder.Begin(clientId, key, RegisterInput.Delete()), async () => await client.DeleteAsync(key, cancellationToken: cancellationToken), RegisterOutput.Done);
                    break;
                default:
                    {
                        var expected = lastSeen;
                        var op = recorder.Begin(clientId, key, RegisterInput.CompareAndSet(expected, value));
                        try
                        {
                            var guard = expected is null ? Compare.Version(key).EqualTo(0) : Compare.Value(key).EqualTo(expected);
                            var txn = await client.Txn().If(guard).Then(Op.Put(key, value)).CommitAsync(cancellationToken);
                            op.Ok(RegisterOutput.Swapped(txn.Succeeded));
                        }
                        catch (ConclaveException)
                        {
                            op.Unknown();
                        }

                        break;
                    }
            }
        }
    }

    // A write that fails after it was sent may still be applied: its outcome is unknown, never "failed".
    private static async Task WriteAsync(PendingOperation op, Func<Task> write, RegisterOutput output)
    {
        try
        {
            await write();
            op.Ok(output);
        }
        catch (ConclaveException)
        {
            op.Unknown();
        }
    }
}

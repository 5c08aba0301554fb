using Conclave.Api.Etcd;
using Grpc.Core;
using Grpc.Net.Client;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Durability;

/// <summary>
/// The key guarantee: no acknowledged write is lost when the (only) member is SIGKILLed mid-stream and
/// restarted on the same data directory. Runs the real <c>conclave serve</c> process.
/// </summary>
public sealed class KillRestartTests(ITestOutputHelper output)
{
    private const int Writers = 8;
    private const int AcksPerCycle = 300;
    private static readonly TimeSpan CycleTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public Task Acknowledged_writes_survive_three_sigkill_restart_cycles() =>
        RunCyclesAsync(cycles: 3, extraArguments: [], waitForSnapshot: false);

    [Fact]
    public Task Acknowledged_writes_survive_sigkill_while_snapshots_are_taken() =>
        RunCyclesAsync(cycles: 2, extraArguments: ["--snapshot-count", "50"], waitForSnapshot: true);

    private async Task RunCyclesAsync(int cycles, string[] extraArguments, bool waitForSnapshot)
    {
        using var directory = TempDirectory.Create("conclave-durability-");
        var dataDirectory = directory.Combine("data");
        await using var node = await NodeProcess.StartAsync(dataDirectory, new NodeProcessOptions { Name = "durable", ExtraArguments = extraArguments });
        output.WriteLine($"started {node} in {node.StartupTime.TotalMilliseconds:F0} ms");
        var log = new AckLog();
        try
        {
            for (var cycle = 1; cycle <= cycles; cycle++)
            {
                var newestSnapshot = NewestSnapshot(dataDirectory);
                var target = log.Count + AcksPerCycle;
                var killedAt = await WriteUntilKilledAsync(node, log, $"dur/c{cycle}", async () =>
                {
                    await Eventually.WaitAsync(() => log.Count >= target, CycleTimeout, $"{AcksPerCycle} acknowledged puts in cycle {cycle}");
                    if (waitForSnapshot)
                    {
                        await Eventually.WaitAsync(() => NewestSnapshot(dataDirectory) != newestSnapshot, CycleTimeout, $"a new snapshot in {dataDirectory}/snap during cycle {cycle}");
                    }
                });
                output.WriteLine($"cycle {cycle}: SIGKILL after {log.Count} acks in total (max acked revision {log.MaxRevision}); newest snapshot {NewestSnapshot(dataDirectory) ?? "none"}");
                var early = log.Failures.Where(f => f.Key.StartsWith($"dur/c{cycle}/", StringComparison.Ordinal) && f.At < killedAt).ToList();
                Assert.True(early.Count == 0, $"puts failed before the kill:\n{string.Join('\n', early)}");

                await node.RestartAsync();
                output.WriteLine($"cycle {cycle}: restarted in {node.StartupTime.TotalMilliseconds:F0} ms");
                await VerifyAsync(node, log, $"dur/c{cycle}");
            }
        }
        catch
        {
            output.WriteLine("--- conclave log ---\n" + node.ReadLog());
            throw;
        }
    }

    /// <summary>Runs concurrent writers until <paramref name="killWhen"/> completes, then SIGKILLs the node mid-stream.</summary>
    private static async Task<DateTime> WriteUntilKilledAsync(NodeProcess node, AckLog log, string prefix, Func<Task> killWhen)
    {
        using var channel = GrpcChannel.ForAddress(node.Endpoint);
        var kv = new KV.KVClient(channel);
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(kv, log, $"{prefix}/w{w}", stop.Token))).ToArray();
        DateTime killedAt;
        try
        {
            await killWhen();
        }
        finally
        {
            killedAt = DateTime.UtcNow;
            node.Kill();
            // Writers end on their first failed put; the deadline on each put bounds this.
            await Task.WhenAll(writers);
            await stop.CancelAsync();
        }

        return killedAt;
    }

    private static async Task WriteAsync(KV.KVClient kv, AckLog log, string prefix, CancellationToken stop)
    {
        for (var seq = 0; !stop.IsCancellationRequested; seq++)
        {
            var key = $"{prefix}/{seq:D6}";
            try
            {
                var response = await kv.PutAsync(
                    new PutRequest { Key = Bytes(key), Value = Bytes(key) },
                    deadline: DateTime.UtcNow.AddSeconds(15),
                    cancellationToken: stop);
                log.Ack(key, response.Header.Revision);
            }
            catch (RpcException e)
            {
                // Outcome unknown: it may or may not have been committed. Only acknowledged puts are promised.
                log.Fail(key, e);
                return;
            }
        }
    }

    private async Task VerifyAsync(NodeProcess node, AckLog log, string newPrefix)
    {
        using var channel = GrpcChannel.ForAddress(node.Endpoint, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        var kv = new KV.KVClient(channel);
        var range = await kv.RangeAsync(new RangeRequest { Key = Bytes("dur/"), RangeEnd = Bytes("dur0") }, deadline: DateTime.UtcNow.AddSeconds(30));
        var stored = range.Kvs.ToDictionary(k => k.Key.ToStringUtf8(), StringComparer.Ordinal);
        var restartRevision = range.Header.Revision;

        var lost = new List<string>();
        foreach (var (key, revision) in log.Acked.OrderBy(p => p.Value))
        {
            if (!stored.TryGetValue(key, out var kv1))
            {
                lost.Add($"{key} (acked at revision {revision}) is missing");
            }
            else if (kv1.ModRevision != revision || kv1.CreateRevision != revision || kv1.Version != 1 || kv1.Value.ToStringUtf8() != key)
            {
                lost.Add($"{key} acked at revision {revision} reads back as mod {kv1.ModRevision} create {kv1.CreateRevision} version {kv1.Version} value '{kv1.Value.ToStringUtf8()}'");
            }
        }

        Assert.True(lost.Count == 0, $"{lost.Count} of {log.Acked.Count} acknowledged puts were lost or changed after restart:\n{string.Join('\n', lost.Take(30))}");
        var duplicates = stored.Values.GroupBy(k => k.ModRevision).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"revisions used by more than one put: {string.Join(", ", duplicates.Take(10))}");
        Assert.True(restartRevision >= log.MaxRevision, $"revision after restart {restartRevision} is below the highest acknowledged {log.MaxRevision}");
        // Only puts of new keys happen here, so the store revision is exactly the newest put's revision.
        Assert.Equal(stored.Values.Max(k => k.ModRevision), restartRevision);
        output.WriteLine($"verified {log.Acked.Count} acked puts; {stored.Count - log.Acked.Count} unacknowledged puts were also committed; revision after restart {restartRevision}");

        // New writes continue right after the recovered revision: strictly above every ack, one revision per put.
        var previous = restartRevision;
        for (var i = 0; i < 20; i++)
        {
            var key = $"{newPrefix}/after-restart/{i:D3}";
            var put = await PutAsync(kv, key, key);
            Assert.True(put.Header.Revision == previous + 1, $"put {i} after restart got revision {put.Header.Revision}, expected {previous + 1}");
            previous = put.Header.Revision;
            log.Ack(key, put.Header.Revision);
        }
    }

    private static string? NewestSnapshot(string dataDirectory)
    {
        var snap = Path.Combine(dataDirectory, "snap");
        return Directory.Exists(snap)
            ? Directory.EnumerateFiles(snap, "*.snap").Select(Path.GetFileName).OrderDescending(StringComparer.Ordinal).FirstOrDefault()
            : null;
    }
}

using System.Collections.Concurrent;

namespace Conclave.Server.Tests.Durability;

/// <summary>Every acknowledged put (key and the revision the server answered) and every writer failure.</summary>
internal sealed class AckLog
{
    private readonly ConcurrentDictionary<string, long> acked = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(DateTime At, string Key, string Error)> failures = new();
    private long count;

    public long Count => Interlocked.Read(ref count);

    public IReadOnlyDictionary<string, long> Acked => acked;

    public IReadOnlyCollection<(DateTime At, string Key, string Error)> Failures => failures;

    public long MaxRevision => acked.IsEmpty ? 0 : acked.Values.Max();

    public void Ack(string key, long revision)
    {
        if (!acked.TryAdd(key, revision))
        {
            throw new InvalidOperationException($"{key} was acknowledged twice");
        }

        Interlocked.Increment(ref count);
    }

    public void Fail(string key, Exception e) => failures.Enqueue((DateTime.UtcNow, key, $"{e.GetType().Name}: {e.Message}"));
}

using System.Collections.Concurrent;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.Server.Config;

/// <summary>
/// The serialized Subscribe message of each effective release in use, shared by every subscriber that gets it: keyed by
/// everything the message holds that can differ between two releases of one id (a namespace deleted and created again
/// restarts its ids; an association's release is built per subscriber, so the record itself is no key). At most
/// <see cref="MaxKept"/> messages and <see cref="MaxBytes"/> bytes are kept (a namespace may hold megabytes); a bound,
/// not an LRU: past it everything is dropped, and a release still in use is encoded again on its next delivery.
/// </summary>
internal sealed class ReleaseEncodings
{
    private const int MaxKept = 1024;
    private const long MaxBytes = 64L * 1024 * 1024;
    private readonly ConcurrentDictionary<Key, Lazy<EncodedRelease>> kept = new();
    private long added;
    private long encoded;
    private long keptBytes;

    /// <summary>How many messages were serialized (tests and diagnostics): once per release and variant while kept.</summary>
    public long Encoded => Interlocked.Read(ref encoded);

    public EncodedRelease Of(EffectiveRelease effective)
    {
        var r = effective.Release;
        var key = new Key(r.App, r.Env, r.Namespace, r.Id, effective.IsGray, r.ContentHash, r.CreatedAt.UtcTicks, r.Title, r.Author);
        if (kept.TryGetValue(key, out var hit))
        {
            return hit.Value;
        }

        if (Interlocked.Increment(ref added) % MaxKept == 0 || Interlocked.Read(ref keptBytes) > MaxBytes)
        {
            kept.Clear();
            Interlocked.Exchange(ref keptBytes, 0);
        }

        // A publish reaches its subscribers all at once: one of them encodes, the others wait for its bytes.
        return kept.GetOrAdd(key, _ => new Lazy<EncodedRelease>(() =>
        {
            Interlocked.Increment(ref encoded);
            var bytes = ConfigGrpcService.ToMessage(effective).ToByteArray();
            Interlocked.Add(ref keptBytes, bytes.Length);
            return new EncodedRelease(bytes);
        })).Value;
    }

    private readonly record struct Key(string App, string Env, string Ns, long Id, bool Gray, string? Hash, long CreatedTicks, string? Title, string? Author);
}

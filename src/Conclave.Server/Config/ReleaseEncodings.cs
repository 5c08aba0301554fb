using System.Collections.Concurrent;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.Server.Config;

/// <summary>
/// The serialized Subscribe message of each effective release in use, shared by every subscriber that gets it: keyed by
/// everything the message holds that can differ between two releases of one id (a namespace deleted and created again
/// restarts its ids; an association's release is built per subscriber, so the record itself is no key). At most
/// <see cref="MaxKept"/> are kept; a bound, not an LRU: a release still in use is encoded again on its next delivery.
/// </summary>
internal sealed class ReleaseEncodings
{
    private const int MaxKept = 1024;
    private readonly ConcurrentDictionary<Key, Lazy<EncodedRelease>> kept = new();
    private long added;
    private long encoded;

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

        if (Interlocked.Increment(ref added) % MaxKept == 0)
        {
            kept.Clear();
        }

        // A publish reaches its subscribers all at once: one of them encodes, the others wait for its bytes.
        return kept.GetOrAdd(key, _ => new Lazy<EncodedRelease>(() =>
        {
            Interlocked.Increment(ref encoded);
            return new EncodedRelease(ConfigGrpcService.ToMessage(effective).ToByteArray());
        })).Value;
    }

    private readonly record struct Key(string App, string Env, string Ns, long Id, bool Gray, string? Hash, long CreatedTicks, string? Title, string? Author);
}

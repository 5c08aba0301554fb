using System.Collections.Concurrent;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>
/// Releases are immutable, so once read they can be shared: every subscriber of a namespace that moves to release R
/// waits on one read of R instead of a read barrier and a range each. Entries are keyed by the namespace's create
/// revision as well as the release id, because a namespace deleted and created again starts its ids at 1.
/// Bounded: past <see cref="Capacity"/> entries the cache starts over.
/// </summary>
internal sealed class ReleaseCache(ConfigStore store)
{
    public const int Capacity = 4096;

    private int added;

    private readonly ConcurrentDictionary<(string App, string Env, string Ns, long Created, long Id), Lazy<Task<ReleaseRecord?>>> entries = new();

    public async ValueTask<ReleaseRecord?> GetAsync(NamespaceRecord n, long id, CancellationToken cancellationToken)
    {
        if (id <= 0)
        {
            return null;
        }

        if (n.CreateRevision <= 0)
        {
            return await store.ReleaseAsync(n.App, n.Env, n.Name, id, cancellationToken);
        }

        var key = (n.App, n.Env, n.Name, n.CreateRevision, id);
        if (!entries.TryGetValue(key, out var entry))
        {
            // ConcurrentDictionary.Count takes every lock: count additions instead (an estimate is enough for a bound).
            if (Interlocked.Increment(ref added) > Capacity)
            {
                entries.Clear();
                Interlocked.Exchange(ref added, 0);
            }

            // The shared read does not take one subscriber's token: a subscriber that leaves must not fail the others.
            entry = entries.GetOrAdd(key, k => new Lazy<Task<ReleaseRecord?>>(() => store.ReleaseAsync(k.App, k.Env, k.Ns, k.Id, CancellationToken.None).AsTask()));
        }

        try
        {
            var release = await entry.Value.WaitAsync(cancellationToken);
            if (release is null)
            {
                entries.TryRemove(KeyValuePair.Create(key, entry));
            }

            return release;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            entries.TryRemove(KeyValuePair.Create(key, entry));
            throw;
        }
    }
}

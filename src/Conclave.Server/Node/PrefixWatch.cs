using System.Runtime.CompilerServices;
using Conclave.Api.Mvcc;
using Conclave.ConfigCenter.Keyspace;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Server.Node;

/// <summary>
/// A watch of one prefix of one keyspace, for the server's own readers (the center's port reads the system keyspace,
/// the console's key browser the user's): a cursor over the keyspace's event history, woken by its revision signal,
/// like the Watch service's watchers.
/// </summary>
internal static class PrefixWatch
{
    /// <summary>
    /// Every change under <paramref name="prefix"/> from <paramref name="fromRevision"/> on, one item per revision.
    /// Throws <see cref="KeyspaceCompactedException"/> when that history is gone.
    /// </summary>
    public static async IAsyncEnumerable<KeyspaceChange> ChangesAsync(
        EventLog events, RevisionSignal signal, Func<long> compactRevision, ByteString prefix, long fromRevision,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var watcher = new Watcher(-1, prefix, KeyOrder.PrefixEnd(prefix), fromRevision, prevKv: false, noPut: false, noDelete: false, progressNotify: false);
        var read = new List<Event>();
        var scratch = new List<RevisionEvents>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var upTo = signal.Revision;
            read.Clear();
            if (!watcher.Read(events, upTo, 1000, read, scratch))
            {
                throw new KeyspaceCompactedException(compactRevision());
            }

            foreach (var group in read.GroupBy(e => e.Kv.ModRevision))
            {
                yield return new KeyspaceChange(group.Key, group.ToList());
            }

            if (watcher.NextRevision <= upTo)
            {
                continue;
            }

            await signal.WaitAsync(upTo).WaitAsync(cancellationToken);
        }
    }
}

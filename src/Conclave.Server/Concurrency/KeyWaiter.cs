using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Server.Node;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Server.Concurrency;

/// <summary>
/// The waiting half of etcd's lock and election recipes, run on the server against the local store: waiters
/// queue by create revision, and each waits only for the deletion of the key just ahead of it.
/// </summary>
internal sealed class KeyWaiter(ConclaveNode node)
{
    /// <summary>The live key under <paramref name="prefix"/> with the highest create revision below <paramref name="createRevision"/>.</summary>
    public KeyValue? Predecessor(ByteString prefix, long createRevision) =>
        node.Store.Range(new RangeRequest
        {
            Key = prefix,
            RangeEnd = KeyOrder.PrefixEnd(prefix),
            MaxCreateRevision = createRevision - 1,
            SortTarget = RangeRequest.Types.SortTarget.Create,
            SortOrder = RangeRequest.Types.SortOrder.Descend,
            Limit = 1,
        }).Kvs.FirstOrDefault();

    /// <summary>The live key under <paramref name="prefix"/> with the lowest create revision (the holder), with the store revision read.</summary>
    public (KeyValue? Owner, long Revision) Owner(ByteString prefix)
    {
        var response = node.Store.Range(new RangeRequest
        {
            Key = prefix,
            RangeEnd = KeyOrder.PrefixEnd(prefix),
            SortTarget = RangeRequest.Types.SortTarget.Create,
            SortOrder = RangeRequest.Types.SortOrder.Ascend,
            Limit = 1,
        });
        return (response.Kvs.FirstOrDefault(), response.Header.Revision);
    }

    /// <summary>Waits until every key under <paramref name="prefix"/> created before <paramref name="createRevision"/> is gone.</summary>
    public async Task WaitForPredecessorsAsync(ByteString prefix, long createRevision, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var revision = node.Store.Revision;
            var ahead = Predecessor(prefix, createRevision);
            if (ahead is null)
            {
                return;
            }

            await WaitForDeleteAsync(ahead.Key, revision + 1, cancellationToken);
        }
    }

    /// <summary>Waits until <paramref name="key"/> is deleted at or after <paramref name="fromRevision"/>.</summary>
    public async Task WaitForDeleteAsync(ByteString key, long fromRevision, CancellationToken cancellationToken)
    {
        var watcher = new Watcher(-1, key, ByteString.Empty, fromRevision, prevKv: false, noPut: true, noDelete: false, progressNotify: false);
        var events = new List<Event>();
        var scratch = new List<RevisionEvents>();
        while (true)
        {
            var upTo = node.Store.Signal.Revision;
            events.Clear();
            if (!watcher.Read(node.Store.Events, upTo, 1000, events, scratch) || events.Count > 0)
            {
                // Deleted, or history compacted past our start: either way, look again from the current state.
                return;
            }

            await node.Store.Signal.WaitAsync(upTo).WaitAsync(cancellationToken);
        }
    }

    /// <summary>Waits for any change under <paramref name="prefix"/> after <paramref name="revision"/>.</summary>
    public async Task WaitForChangeAsync(ByteString prefix, long revision, CancellationToken cancellationToken)
    {
        var watcher = new Watcher(-1, prefix, KeyOrder.PrefixEnd(prefix), revision + 1, prevKv: false, noPut: false, noDelete: false, progressNotify: false);
        var events = new List<Event>();
        var scratch = new List<RevisionEvents>();
        while (true)
        {
            var upTo = node.Store.Signal.Revision;
            events.Clear();
            if (!watcher.Read(node.Store.Events, upTo, 1000, events, scratch) || events.Count > 0)
            {
                return;
            }

            await node.Store.Signal.WaitAsync(upTo).WaitAsync(cancellationToken);
        }
    }
}

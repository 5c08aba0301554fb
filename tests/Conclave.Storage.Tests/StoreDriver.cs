using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>Drives a <see cref="KeyValueStore"/> the way the log does: one encoded entry per call.</summary>
internal sealed class StoreDriver : IDisposable
{
    private long index;

    public StoreDriver(StoreLimits? limits = null) => Store = new KeyValueStore(limits);

    /// <summary>Drives a store that already holds a state (e.g. restored from a snapshot), from its applied index on; disposing it disposes the store.</summary>
    public StoreDriver(KeyValueStore store)
    {
        Store = store;
        index = store.AppliedIndex;
    }

    public KeyValueStore Store { get; }

    public static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    public object? Apply(Command command) => Store.Apply(++index, KeyValueStore.Encode([command]))[0];

    public T Ok<T>(Command command)
    {
        var result = Apply(command);
        return result is T t ? t : throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name}, got {result}");
    }

    public ConclaveErrorException Fails(Command command) =>
        Apply(command) as ConclaveErrorException ?? throw new Xunit.Sdk.XunitException("expected the command to be rejected");

    public PutResponse Put(string key, string value, long lease = 0, bool prevKv = false) =>
        Ok<PutResponse>(new Command { Put = new PutRequest { Key = B(key), Value = B(value), Lease = lease, PrevKv = prevKv } });

    public DeleteRangeResponse Delete(string key, string? end = null, bool prevKv = false) =>
        Ok<DeleteRangeResponse>(new Command { DeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = end is null ? ByteString.Empty : B(end), PrevKv = prevKv } });

    public TxnResponse Txn(TxnRequest txn) => Ok<TxnResponse>(new Command { Txn = txn });

    public CompactionResponse Compact(long revision) => Ok<CompactionResponse>(new Command { Compaction = new CompactionRequest { Revision = revision } });

    public RangeResponse Get(string key, string? end = null, long revision = 0) =>
        Store.Range(new RangeRequest { Key = B(key), RangeEnd = end is null ? ByteString.Empty : B(end), Revision = revision });

    public void Dispose() => Store.Dispose();
}

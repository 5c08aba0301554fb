using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Cluster;

/// <summary>
/// Membership the Raft configuration does not hold, recorded as data: learners (the engine has no non-voting
/// members) and members added but not joined yet (so that a new leader continues adding them). One key per member
/// in the system keyspace (ADR 0012), the value an etcd <see cref="Member"/>. Replicated and snapshotted with
/// everything else, so a record survives restarts, leader changes and log compaction on every member; etcd's KV API
/// neither shows nor reaches it. Keys and values are an on-disk format: data directories and snapshots hold them.
/// </summary>
internal sealed class MemberRecords(string prefix, KeyValueStore store, IConsensus consensus)
{
    /// <summary>The prefix of every cluster record in the system keyspace.</summary>
    public const string Root = "cluster/";

    /// <summary>The prefix of learner records.</summary>
    public const string LearnersPrefix = Root + "learners/";

    /// <summary>The prefix of the records of members added but not joined yet.</summary>
    public const string JoiningPrefix = Root + "joining/";

    public string Prefix { get; } = prefix;

    private ByteString Key(ulong id) => ByteString.CopyFromUtf8(Prefix + id.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The records as this member's state has them (a local, serializable read).</summary>
    public IReadOnlyList<Member> List()
    {
        var start = ByteString.CopyFromUtf8(Prefix);
        var response = store.SystemKeyspace.Range(new RangeRequest { Key = start, RangeEnd = Storage.Mvcc.KeyOrder.PrefixEnd(start) });
        return [.. response.Kvs.Select(static kv => Member.Parser.ParseFrom(kv.Value))];
    }

    public Member? Find(ulong id) => List().FirstOrDefault(m => m.ID == id);

    /// <summary>Writes the record (replicated like any write); with <paramref name="createOnly"/>, fails if it exists.</summary>
    public async ValueTask<bool> PutAsync(Member member, bool createOnly, CancellationToken cancellationToken)
    {
        var key = Key(member.ID);
        var txn = new TxnRequest();
        if (createOnly)
        {
            txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        }

        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = member.ToByteString() } });
        var response = await ProposeAsync<TxnResponse>(new Command { Txn = txn, Keyspace = KeyspaceKind.System }, cancellationToken).ConfigureAwait(false);
        return response.Succeeded;
    }

    public async ValueTask DeleteAsync(ulong id, CancellationToken cancellationToken) =>
        await ProposeAsync<DeleteRangeResponse>(new Command { DeleteRange = new DeleteRangeRequest { Key = Key(id) }, Keyspace = KeyspaceKind.System }, cancellationToken).ConfigureAwait(false);

    private async ValueTask<T> ProposeAsync<T>(Command command, CancellationToken cancellationToken)
    {
        if (!store.HasSpaceFor(command))
        {
            throw new ConclaveErrorException(ErrorCode.NoSpace,
                $"the store holds {store.SizeBytes} bytes; this write would pass the quota of {store.Limits.QuotaBytes} bytes (--quota-backend-bytes)");
        }

        var result = await consensus.ProposeAsync(command, cancellationToken).ConfigureAwait(false);
        return result switch
        {
            Exception e => throw e,
            T response => response,
            _ => throw new InvalidOperationException($"the state machine answered {result?.GetType().Name ?? "null"} where {typeof(T).Name} was expected"),
        };
    }
}

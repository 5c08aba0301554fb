using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Server.Node;

/// <summary>
/// Membership the Raft configuration does not hold, recorded as data: learners (the engine has no non-voting
/// members) and members added but not joined yet (so that a new leader continues adding them). One key per member
/// in the system keyspace (ADR 0012), the value an etcd <see cref="Member"/>. Replicated and snapshotted with
/// everything else, so a record survives restarts, leader changes and log compaction on every member; etcd's KV API
/// neither shows nor reaches it.
/// </summary>
public sealed class MemberRecords(string prefix)
{
    /// <summary>The prefix of every cluster record in the system keyspace.</summary>
    public const string Root = "cluster/";

    public static MemberRecords Learners { get; } = new(Root + "learners/");

    public static MemberRecords Joining { get; } = new(Root + "joining/");

    public string Prefix { get; } = prefix;

    private ByteString Key(ulong id) => ByteString.CopyFromUtf8(Prefix + id.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The learners as this member's state has them (a local, serializable read).</summary>
    public IReadOnlyList<Member> List(KeyValueStore store)
    {
        var start = ByteString.CopyFromUtf8(Prefix);
        var response = store.SystemKeyspace.Range(new RangeRequest { Key = start, RangeEnd = Config.PrefixEnd(start) });
        return [.. response.Kvs.Select(static kv => Member.Parser.ParseFrom(kv.Value))];
    }

    public Member? Find(KeyValueStore store, ulong id) => List(store).FirstOrDefault(m => m.ID == id);

    /// <summary>Writes the record (replicated like any write); with <paramref name="createOnly"/>, fails if it exists.</summary>
    public async ValueTask<bool> PutAsync(ConclaveNode node, Member member, bool createOnly, CancellationToken cancellationToken)
    {
        var key = Key(member.ID);
        var txn = new TxnRequest();
        if (createOnly)
        {
            txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        }

        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = member.ToByteString() } });
        var response = await node.ProposeAsync<TxnResponse>(new Command { Txn = txn, Keyspace = KeyspaceKind.System }, cancellationToken);
        return response.Succeeded;
    }

    public async ValueTask DeleteAsync(ConclaveNode node, ulong id, CancellationToken cancellationToken) =>
        await node.ProposeAsync<DeleteRangeResponse>(new Command { DeleteRange = new DeleteRangeRequest { Key = Key(id) }, Keyspace = KeyspaceKind.System }, cancellationToken);

    private static class Config
    {
        public static ByteString PrefixEnd(ByteString prefix) => ConfigCenter.Keyspace.ConfigKeys.PrefixEnd(prefix);
    }
}

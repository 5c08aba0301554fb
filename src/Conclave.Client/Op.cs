using Conclave.Api.Etcd;
using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

/// <summary>
/// One operation of a transaction branch: <c>Op.Get("k")</c>, <c>Op.Put("k", "v")</c>, <c>Op.Delete("k")</c>,
/// or a nested <c>Op.Txn(...)</c>.
/// </summary>
public sealed class Op
{
    private Op(RequestOp request, bool isRead)
    {
        Request = request;
        IsRead = isRead;
    }

    /// <summary>Whether the operation only reads (a transaction of reads only can safely be retried).</summary>
    public bool IsRead { get; }

    internal RequestOp Request { get; }

    /// <summary>Reads a key (or range) inside the transaction.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <param name="options">Range, revision, limit, sort and projection options.</param>
    /// <returns>The operation.</returns>
    public static Op Get(string key, GetOptions? options = null) => Get(KeyBytes.From(key), options);

    /// <summary>Reads a key (or range) inside the transaction.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="options">Range, revision, limit, sort and projection options.</param>
    /// <returns>The operation.</returns>
    public static Op Get(ByteString key, GetOptions? options = null) =>
        new(new RequestOp { RequestRange = Requests.Range(key, options) }, isRead: true);

    /// <summary>Writes a key inside the transaction.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <param name="value">Value, encoded as UTF-8.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <returns>The operation.</returns>
    public static Op Put(string key, string value, PutOptions? options = null) => Put(KeyBytes.From(key), KeyBytes.From(value), options);

    /// <summary>Writes a key inside the transaction.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">Value bytes.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <returns>The operation.</returns>
    public static Op Put(ByteString key, ByteString value, PutOptions? options = null) =>
        new(new RequestOp { RequestPut = Requests.Put(key, value, options) }, isRead: false);

    /// <summary>Deletes a key (or range) inside the transaction.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <param name="options">Range and previous-value options.</param>
    /// <returns>The operation.</returns>
    public static Op Delete(string key, DeleteOptions? options = null) => Delete(KeyBytes.From(key), options);

    /// <summary>Deletes a key (or range) inside the transaction.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="options">Range and previous-value options.</param>
    /// <returns>The operation.</returns>
    public static Op Delete(ByteString key, DeleteOptions? options = null) =>
        new(new RequestOp { RequestDeleteRange = Requests.Delete(key, options) }, isRead: false);

    /// <summary>A nested transaction (its result is a <see cref="TxnResult"/>).</summary>
    /// <param name="compares">Conditions of the nested transaction.</param>
    /// <param name="success">Operations when every condition holds.</param>
    /// <param name="failure">Operations otherwise.</param>
    /// <returns>The operation.</returns>
    public static Op Txn(IEnumerable<Compare> compares, IEnumerable<Op> success, IEnumerable<Op> failure)
    {
        var request = TxnRequests.Build(compares, success, failure, out var readOnly);
        return new Op(new RequestOp { RequestTxn = request }, readOnly);
    }
}

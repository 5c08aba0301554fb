using Conclave.Api.Etcd;
using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

// Key-value operations: get, put, delete, transactions, compaction.
public sealed partial class ConclaveClient
{
    /// <summary>Reads a key, or a range of keys with <see cref="GetOptions.Prefix"/> and friends. A missing key is an empty result.</summary>
    /// <param name="key">Key (or range start), encoded as UTF-8.</param>
    /// <param name="options">Range, revision, limit, sort, projection and consistency options.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pairs found and the revision read.</returns>
    /// <exception cref="CompactedRevisionException">The requested revision has been compacted.</exception>
    /// <exception cref="FutureRevisionException">The requested revision does not exist yet.</exception>
    public ValueTask<GetResult> GetAsync(string key, GetOptions? options = null, CancellationToken cancellationToken = default) =>
        GetAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Reads a key, or a range of keys with <see cref="GetOptions.Prefix"/> and friends. A missing key is an empty result.</summary>
    /// <param name="key">Key (or range start) bytes; copied.</param>
    /// <param name="options">Range, revision, limit, sort, projection and consistency options.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pairs found and the revision read.</returns>
    public ValueTask<GetResult> GetAsync(ReadOnlyMemory<byte> key, GetOptions? options = null, CancellationToken cancellationToken = default) =>
        GetAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Reads a key, or a range of keys with <see cref="GetOptions.Prefix"/> and friends. A missing key is an empty result.</summary>
    /// <param name="key">Key (or range start) bytes.</param>
    /// <param name="options">Range, revision, limit, sort, projection and consistency options.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pairs found and the revision read.</returns>
    public async ValueTask<GetResult> GetAsync(ByteString key, GetOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Requests.Range(key, options);
        var (response, _) = await InvokeAsync(
            request,
            static (e, r, o) => e.Kv.RangeAsync(r, o),
            idempotent: true,
            cancellationToken,
            requestedRevision: request.Revision).ConfigureAwait(false);
        return GetResult.From(response);
    }

    /// <summary>Writes a key.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <param name="value">Value, encoded as UTF-8.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>The revision of the write.</returns>
    /// <exception cref="LeaseNotFoundException">The lease in <paramref name="options"/> does not exist.</exception>
    /// <exception cref="DatabaseSpaceExceededException">The storage quota is exhausted.</exception>
    public ValueTask<PutResult> PutAsync(string key, string value, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        PutAsync(KeyBytes.From(key), KeyBytes.From(value), options, cancellationToken);

    /// <summary>Writes a key with a binary value.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <param name="value">Value bytes; copied.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>The revision of the write.</returns>
    public ValueTask<PutResult> PutAsync(string key, ReadOnlyMemory<byte> value, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        PutAsync(KeyBytes.From(key), KeyBytes.From(value), options, cancellationToken);

    /// <summary>Writes a key.</summary>
    /// <param name="key">Key bytes; copied.</param>
    /// <param name="value">Value bytes; copied.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>The revision of the write.</returns>
    public ValueTask<PutResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, PutOptions? options = null, CancellationToken cancellationToken = default) =>
        PutAsync(KeyBytes.From(key), KeyBytes.From(value), options, cancellationToken);

    /// <summary>Writes a key.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">Value bytes.</param>
    /// <param name="options">Lease and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>The revision of the write.</returns>
    public async ValueTask<PutResult> PutAsync(ByteString key, ByteString value, PutOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Requests.Put(key, value, options);
        var (response, _) = await InvokeAsync(
            request,
            static (e, r, o) => e.Kv.PutAsync(r, o),
            idempotent: false,
            cancellationToken,
            leaseId: request.Lease).ConfigureAwait(false);
        return PutResult.From(response);
    }

    /// <summary>Deletes a key, or a range of keys with <see cref="DeleteOptions.Prefix"/> and friends. Deleting a missing key is not an error.</summary>
    /// <param name="key">Key (or range start), encoded as UTF-8.</param>
    /// <param name="options">Range and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled delete may still be applied).</param>
    /// <returns>How many keys were deleted.</returns>
    public ValueTask<DeleteResult> DeleteAsync(string key, DeleteOptions? options = null, CancellationToken cancellationToken = default) =>
        DeleteAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Deletes a key, or a range of keys with <see cref="DeleteOptions.Prefix"/> and friends. Deleting a missing key is not an error.</summary>
    /// <param name="key">Key (or range start) bytes; copied.</param>
    /// <param name="options">Range and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled delete may still be applied).</param>
    /// <returns>How many keys were deleted.</returns>
    public ValueTask<DeleteResult> DeleteAsync(ReadOnlyMemory<byte> key, DeleteOptions? options = null, CancellationToken cancellationToken = default) =>
        DeleteAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Deletes a key, or a range of keys with <see cref="DeleteOptions.Prefix"/> and friends. Deleting a missing key is not an error.</summary>
    /// <param name="key">Key (or range start) bytes.</param>
    /// <param name="options">Range and previous-value options.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled delete may still be applied).</param>
    /// <returns>How many keys were deleted.</returns>
    public async ValueTask<DeleteResult> DeleteAsync(ByteString key, DeleteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Requests.Delete(key, options);
        var (response, _) = await InvokeAsync(
            request,
            static (e, r, o) => e.Kv.DeleteRangeAsync(r, o),
            idempotent: false,
            cancellationToken).ConfigureAwait(false);
        return DeleteResult.From(response);
    }

    /// <summary>Starts building a transaction; finish with <see cref="TxnBuilder.CommitAsync"/>.</summary>
    /// <returns>A new single-use builder.</returns>
    public TxnBuilder Txn() => new(this);

    /// <summary>
    /// Runs a transaction atomically: if every condition in <paramref name="compares"/> holds, the
    /// <paramref name="success"/> operations run, otherwise the <paramref name="failure"/> ones.
    /// A failed comparison is a result (<see cref="TxnResult.Succeeded"/> is false), not an error.
    /// </summary>
    /// <param name="compares">Conditions; none means the success branch runs.</param>
    /// <param name="success">Operations when every condition holds.</param>
    /// <param name="failure">Operations otherwise.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled transaction may still be applied).</param>
    /// <returns>Which branch ran and the results of its operations.</returns>
    /// <exception cref="InvalidRequestException">Too many operations, or the same key written twice.</exception>
    public async ValueTask<TxnResult> TxnAsync(IEnumerable<Compare> compares, IEnumerable<Op> success, IEnumerable<Op> failure, CancellationToken cancellationToken = default)
    {
        var request = TxnRequests.Build(compares, success, failure, out var readOnly);
        var (response, _) = await InvokeAsync(
            request,
            static (e, r, o) => e.Kv.TxnAsync(r, o),
            idempotent: readOnly,
            cancellationToken).ConfigureAwait(false);
        return TxnResult.From(response);
    }

    /// <summary>
    /// Discards the history of every key before <paramref name="revision"/>: reads and watches at older revisions
    /// fail afterwards with <see cref="CompactedRevisionException"/> / <see cref="WatchCompactedException"/>.
    /// </summary>
    /// <param name="revision">Revision to compact up to.</param>
    /// <param name="physical">Wait until the compaction is physically applied to the backing store.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The revision of the keyspace when the compaction was applied.</returns>
    /// <exception cref="CompactedRevisionException">The keyspace is already compacted at or past <paramref name="revision"/>.</exception>
    /// <exception cref="FutureRevisionException"><paramref name="revision"/> is newer than the current revision.</exception>
    public async ValueTask<CompactResult> CompactAsync(long revision, bool physical = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(revision);
        var request = new CompactionRequest { Revision = revision, Physical = physical };
        var (response, _) = await InvokeAsync(
            request,
            static (e, r, o) => e.Kv.CompactAsync(r, o),
            idempotent: false,
            cancellationToken,
            requestedRevision: revision).ConfigureAwait(false);
        return new CompactResult(response.Header?.Revision ?? 0);
    }
}

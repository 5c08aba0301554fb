using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

/// <summary>
/// A lock held through a <see cref="ConclaveSession"/> (from <see cref="ConclaveSession.LockAsync(string, CancellationToken)"/>).
/// Dispose it to release the lock.
/// </summary>
/// <remarks>
/// Holding the handle does not prove that the lock is still held: the session's lease can expire while this
/// process is paused (GC, swap, SIGSTOP) or cut off, and another holder may already have taken over. Guard every
/// write the lock protects with <see cref="Guard"/> (or <see cref="PutIfHolderAsync(string, string, CancellationToken)"/>),
/// so the cluster itself rejects a stale holder; pass <see cref="FencingToken"/> to other resources and have them
/// reject tokens lower than the highest they have seen.
/// </remarks>
public sealed class LockHandle : IAsyncDisposable
{
    private readonly ConclaveClient _client;
    private readonly ConclaveSession _session;
    private readonly HeldKey _held;
    private readonly ByteString _name;
    private int _released;

    internal LockHandle(ConclaveClient client, ConclaveSession session, ByteString name, KeyValueEntry key)
    {
        _client = client;
        _session = session;
        _name = name;
        Name = name.ToStringUtf8();
        Key = key.Key;
        FencingToken = key.CreateRevision;
        LeaseId = key.Lease;
        _held = HeldKey.Start(client, session, key.Key, key.CreateRevision);
    }

    /// <summary>The lock's name.</summary>
    public string Name { get; }

    /// <summary>The holder key (<c>name/leaseID</c> in hex): it exists exactly as long as this holder holds the lock.</summary>
    public ByteString Key { get; }

    /// <summary>The holder key as text.</summary>
    public string KeyString => Key.ToStringUtf8();

    /// <summary>
    /// The holder key's create revision. Strictly increasing across the holders of one lock name: a later holder
    /// always has a larger token, so a resource that remembers the largest token it has seen can refuse a stale one.
    /// </summary>
    public long FencingToken { get; }

    /// <summary>The session's lease, attached to the holder key.</summary>
    public long LeaseId { get; }

    /// <summary>
    /// Fires when the lock is known to be lost or released: the session ended, the holder key was deleted (by
    /// <see cref="DisposeAsync"/>, an unlock from elsewhere, or the lease's expiry), or the handle was disposed.
    /// It fires late when this process was paused or cut off: the fencing token, not this token, keeps a stale
    /// holder's writes out.
    /// </summary>
    public CancellationToken LostToken => _held.Lost;

    /// <summary>
    /// A transaction condition that holds only while this holder still holds the lock (the holder key exists with
    /// this create revision): <c>client.Txn().If(lockHandle.Guard).Then(...)</c>.
    /// </summary>
    public Compare Guard => Compare.Fenced(Key, FencingToken);

    /// <summary>Writes <paramref name="key"/> only if this holder still holds the lock, atomically with the check.</summary>
    /// <param name="key">Key to write, encoded as UTF-8.</param>
    /// <param name="value">Value, encoded as UTF-8.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>Whether the write was applied; false means the lock had passed to someone else (a stale holder), and nothing was written.</returns>
    public ValueTask<bool> PutIfHolderAsync(string key, string value, CancellationToken cancellationToken = default) =>
        GuardedWrite.PutAsync(_client, Guard, Op.Put(key, value), cancellationToken);

    /// <summary>Writes <paramref name="key"/> only if this holder still holds the lock, atomically with the check.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">Value bytes.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>Whether the write was applied.</returns>
    public ValueTask<bool> PutIfHolderAsync(ByteString key, ByteString value, CancellationToken cancellationToken = default) =>
        GuardedWrite.PutAsync(_client, Guard, Op.Put(key, value), cancellationToken);

    /// <summary>Releases the lock (deletes the holder key, so the next waiter gets it). The session stays alive.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the lock is released.</returns>
    public async ValueTask UnlockAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        try
        {
            await _client.UnlockAsync(Key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _held.StopAsync().ConfigureAwait(false);
            _session.Release(_name);
        }
    }

    /// <summary>Releases the lock; failures are ignored (the lock is freed when the session's lease ends anyway).</summary>
    /// <returns>A task that completes when the lock is released or the attempt failed.</returns>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await UnlockAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException or ObjectDisposedException or OperationCanceledException)
        {
            // The lease will end it.
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"lock {Name} held as {KeyString} (fencing token {FencingToken})";
}

using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

/// <summary>
/// The leadership of an election won through a <see cref="ConclaveSession"/> (from
/// <see cref="ConclaveSession.CampaignAsync(string, string, CancellationToken)"/>). Dispose it to resign.
/// </summary>
/// <remarks>
/// Like a lock, leadership can end while this process is paused or cut off; guard the writes a leader makes
/// with <see cref="Guard"/> or <see cref="PutIfLeaderAsync(string, string, CancellationToken)"/>.
/// </remarks>
public sealed class Leadership : IAsyncDisposable
{
    private readonly ConclaveClient _client;
    private readonly ConclaveSession _session;
    private readonly HeldKey _held;
    private readonly ByteString _name;
    private int _resigned;

    internal Leadership(ConclaveClient client, ConclaveSession session, ByteString name, ByteString key, long createRevision, ByteString value)
    {
        _client = client;
        _session = session;
        _name = name;
        Name = name.ToStringUtf8();
        Key = key;
        FencingToken = createRevision;
        Value = value;
        _held = HeldKey.Start(client, session, key, createRevision);
    }

    /// <summary>The election's name.</summary>
    public string Name { get; }

    /// <summary>The leader key (<c>name/leaseID</c> in hex); observers see its value.</summary>
    public ByteString Key { get; }

    /// <summary>The leader key as text.</summary>
    public string KeyString => Key.ToStringUtf8();

    /// <summary>The leader key's create revision: strictly increasing across the leaders of one election.</summary>
    public long FencingToken { get; }

    /// <summary>The session's lease, attached to the leader key.</summary>
    public long LeaseId => _session.LeaseId;

    /// <summary>The value last announced by this leader.</summary>
    public ByteString Value { get; private set; }

    /// <summary>The value last announced, as text.</summary>
    public string ValueString => Value.ToStringUtf8();

    /// <summary>Fires when the leadership is known to be over: resigned, the leader key deleted, or the session ended.</summary>
    public CancellationToken LostToken => _held.Lost;

    /// <summary>A transaction condition that holds only while this leader still leads: <c>client.Txn().If(leadership.Guard).Then(...)</c>.</summary>
    public Compare Guard => Compare.Fenced(Key, FencingToken);

    /// <summary>Announces a new value without giving up the leadership; observers see it.</summary>
    /// <param name="value">The new value, encoded as UTF-8.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the value is written.</returns>
    /// <exception cref="LeadershipLostException">This candidate is not the leader any more.</exception>
    public ValueTask ProclaimAsync(string value, CancellationToken cancellationToken = default) =>
        ProclaimAsync(KeyBytes.From(value), cancellationToken);

    /// <summary>Announces a new binary value; see <see cref="ProclaimAsync(string, CancellationToken)"/>.</summary>
    /// <param name="value">The new value.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the value is written.</returns>
    public async ValueTask ProclaimAsync(ByteString value, CancellationToken cancellationToken = default)
    {
        await _client.ProclaimAsync(_name, Key, FencingToken, LeaseId, KeyBytes.Checked(value), cancellationToken).ConfigureAwait(false);
        Value = value;
    }

    /// <summary>Writes <paramref name="key"/> only if this candidate still leads, atomically with the check.</summary>
    /// <param name="key">Key to write, encoded as UTF-8.</param>
    /// <param name="value">Value, encoded as UTF-8.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled write may still be applied).</param>
    /// <returns>Whether the write was applied; false means the leadership had passed on, and nothing was written.</returns>
    public ValueTask<bool> PutIfLeaderAsync(string key, string value, CancellationToken cancellationToken = default) =>
        GuardedWrite.PutAsync(_client, Guard, Op.Put(key, value), cancellationToken);

    /// <summary>Gives up the leadership (deletes the leader key, so the next candidate wins). The session stays alive.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the leadership is given up.</returns>
    public async ValueTask ResignAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _resigned, 1) != 0)
        {
            return;
        }

        try
        {
            await _client.ResignAsync(_name, Key, FencingToken, LeaseId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _held.StopAsync().ConfigureAwait(false);
            _session.Release(_name);
        }
    }

    /// <summary>Resigns; failures are ignored (the leadership ends with the session's lease anyway).</summary>
    /// <returns>A task that completes when the leadership is given up or the attempt failed.</returns>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await ResignAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException or ObjectDisposedException or OperationCanceledException)
        {
            // The lease will end it.
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"leader of {Name} as {KeyString} (fencing token {FencingToken})";
}

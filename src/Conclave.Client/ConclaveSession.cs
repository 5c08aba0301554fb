using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

/// <summary>
/// A lease kept alive in the background (one renewal every third of the TTL), and the locks and candidacies
/// held through it. Create with <see cref="ConclaveClient.CreateSessionAsync(long, CancellationToken)"/>;
/// dispose to revoke the lease, which releases everything held through it at once.
/// </summary>
/// <remarks>
/// A session ends when its lease does: <see cref="Lost"/> fires when the server says the lease is gone, when no
/// renewal was answered before the TTL ran out (counted from the send time, so the client gives up no later than
/// the cluster would), or when the session is disposed. After that, every lock and leadership taken through it
/// is void; their fencing tokens are what keeps a late writer out (see <see cref="LockHandle.FencingToken"/>).
/// </remarks>
public sealed class ConclaveSession : IAsyncDisposable
{
    private readonly KeepAliveRegistration _keepAlive;
    private readonly HashSet<string> _namesInUse = new(StringComparer.Ordinal);
    private int _disposed;

    internal ConclaveSession(ConclaveClient client, long leaseId, long ttl, KeepAliveRegistration keepAlive)
    {
        Client = client;
        LeaseId = leaseId;
        Ttl = ttl;
        _keepAlive = keepAlive;
    }

    /// <summary>The client the session runs on.</summary>
    public ConclaveClient Client { get; }

    /// <summary>The session's lease.</summary>
    public long LeaseId { get; }

    /// <summary>The TTL the lease was granted with, in seconds.</summary>
    public long Ttl { get; }

    /// <summary>Fires when the session's lease is over (see <see cref="LostReason"/>), including when the session is disposed.</summary>
    public CancellationToken Lost => _keepAlive.Lost;

    /// <summary>Why the session ended; <c>null</c> while it is alive.</summary>
    public LeaseLostReason? LostReason => _keepAlive.Reason;

    /// <summary>Whether the session is still alive as far as this client knows.</summary>
    public bool IsAlive => !_keepAlive.Lost.IsCancellationRequested;

    /// <summary>
    /// Waits until this session holds the lock <paramref name="name"/> (etcd's recipe: waiters queue by the create
    /// revision of their key <c>name/leaseID</c>; the lowest holds it). Uses the Lock service, so it works against
    /// etcd too. Survives member restarts and failovers: the request is repeated with the same lease, which keeps
    /// the same place in the queue.
    /// </summary>
    /// <param name="name">The lock's name (a key prefix).</param>
    /// <param name="cancellationToken">Gives up waiting; the place in the queue is released.</param>
    /// <returns>The held lock with its fencing token; dispose it to release the lock.</returns>
    /// <exception cref="LeaseLostException">The session ended before the lock was acquired.</exception>
    /// <exception cref="InvalidOperationException">This session already holds or waits for <paramref name="name"/> (as a lock or an election).</exception>
    public ValueTask<LockHandle> LockAsync(string name, CancellationToken cancellationToken = default) =>
        Client.AcquireLockAsync(this, KeyBytes.From(name), cancellationToken);

    /// <summary>
    /// Campaigns in the election <paramref name="name"/> and waits until this session is the leader (candidates
    /// queue by create revision, as locks do). The leader's value is <paramref name="value"/> until it proclaims another.
    /// </summary>
    /// <param name="name">The election's name (a key prefix).</param>
    /// <param name="value">The value to announce as leader (e.g. this instance's address).</param>
    /// <param name="cancellationToken">Gives up; the candidacy is withdrawn.</param>
    /// <returns>The leadership with its fencing token; dispose it to resign.</returns>
    /// <exception cref="LeaseLostException">The session ended before the election was won.</exception>
    public ValueTask<Leadership> CampaignAsync(string name, string value, CancellationToken cancellationToken = default) =>
        Client.CampaignAsync(this, KeyBytes.From(name), KeyBytes.From(value), cancellationToken);

    /// <summary>Campaigns with a binary value; see <see cref="CampaignAsync(string, string, CancellationToken)"/>.</summary>
    /// <param name="name">The election's name.</param>
    /// <param name="value">The value to announce as leader.</param>
    /// <param name="cancellationToken">Gives up; the candidacy is withdrawn.</param>
    /// <returns>The leadership; dispose it to resign.</returns>
    public ValueTask<Leadership> CampaignAsync(string name, ByteString value, CancellationToken cancellationToken = default) =>
        Client.CampaignAsync(this, KeyBytes.From(name), KeyBytes.Checked(value), cancellationToken);

    /// <summary>Stops the renewals and revokes the lease (releasing every lock and leadership of the session); then <see cref="Lost"/> fires with <see cref="LeaseLostReason.Closed"/>.</summary>
    /// <returns>A task that completes when the lease is revoked, or the revoke failed (the lease then expires by itself).</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _keepAlive.Detach();
        if (IsAlive)
        {
            await Client.TryRevokeAsync(LeaseId).ConfigureAwait(false);
        }

        _keepAlive.End(LeaseLostReason.Closed);
    }

    /// <summary>Throws <see cref="LeaseLostException"/> if the session is over.</summary>
    internal void ThrowIfLost(Exception? cause = null)
    {
        if (!IsAlive)
        {
            throw new LeaseLostException(LeaseId, LostReason ?? LeaseLostReason.Closed, cause);
        }
    }

    /// <summary>The server said the lease is gone: end the session now instead of at the next renewal.</summary>
    internal void MarkGone()
    {
        _keepAlive.Detach();
        _keepAlive.End(LeaseLostReason.NotFound);
    }

    /// <summary>Claims <paramref name="name"/> for one lock or candidacy of this session (they would share the key <c>name/leaseID</c>).</summary>
    internal void Claim(ByteString name)
    {
        var text = Convert.ToHexString(name.Span);
        lock (_namesInUse)
        {
            if (!_namesInUse.Add(text))
            {
                throw new InvalidOperationException($"This session already holds or waits for '{name.ToStringUtf8()}' (a lock and an election of one session share the key name/leaseID).");
            }
        }
    }

    internal void Release(ByteString name)
    {
        var text = Convert.ToHexString(name.Span);
        lock (_namesInUse)
        {
            _namesInUse.Remove(text);
        }
    }
}

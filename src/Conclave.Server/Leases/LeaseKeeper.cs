using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Node;
using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Leases;

/// <summary>
/// Decides lease expiry. Only the leader's clock takes part: the leader keeps each lease's deadline, renews it
/// on keep-alive, and when a deadline passes proposes a revoke through the log, so every member deletes the
/// same keys at the same revision. Deadlines are not replicated: a member that becomes leader (or restarts)
/// gives every lease its full TTL plus <see cref="ServerOptions.LeaseLeaderChangeExtension"/>, as etcd does,
/// so a failover never expires a lease that its client was keeping alive.
/// </summary>
public sealed partial class LeaseKeeper : BackgroundService
{
    private readonly ConclaveNode node;
    private readonly ILogger<LeaseKeeper> logger;
    private readonly TimeProvider clock;
    private readonly Lock gate = new();
    private readonly Dictionary<long, DateTimeOffset> deadlines = [];
    private readonly HashSet<long> revoking = [];

    // The leadership the deadlines belong to (term 0: none). Compared by term, so a lose-and-regain between two checks is
    // a new leadership whose leases start with their full TTL again, as after any other leader change.
    private long leadingTerm;

    public LeaseKeeper(ConclaveNode node, ILogger<LeaseKeeper> logger)
    {
        this.node = node;
        this.logger = logger;
        clock = node.Options.TimeProvider;
    }

    /// <summary>
    /// Picks a fresh id, grants the lease through the log and starts its clock. A lease of the system keyspace
    /// (<paramref name="keyspace"/>) is the configuration center's: etcd's Lease API neither lists nor reaches it.
    /// </summary>
    /// <param name="user">The client's user the grant runs as (ADR 0014); null when the member grants for itself.</param>
    public async Task<LeaseGrantResponse> GrantAsync(LeaseGrantRequest request, string? user, CancellationToken cancellationToken, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        if (request.TTL > MaxTtlSeconds)
        {
            throw new ConclaveErrorException(ErrorCode.LeaseTtlTooLarge, $"lease TTL {request.TTL}s is over the limit of {MaxTtlSeconds}s");
        }

        if (request.ID < 0)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"lease id {request.ID} is negative");
        }

        if (node.Store.LeaseCount >= node.Options.MaxLeases)
        {
            throw new ConclaveErrorException(ErrorCode.TooManyLeases, $"{node.Store.LeaseCount} leases exist; the limit is {node.Options.MaxLeases} (--max-leases)");
        }

        var ttl = Math.Max(request.TTL, node.Options.MinLeaseTtlSeconds);
        for (var attempt = 0; ; attempt++)
        {
            var id = request.ID != 0 ? request.ID : NewId();
            try
            {
                var response = await node.ProposeAsync<LeaseGrantResponse>(
                    new Command { LeaseGrant = new LeaseGrantRequest { ID = id, TTL = ttl }, Keyspace = keyspace, User = user ?? "", ByMember = user is null }, cancellationToken);
                lock (gate)
                {
                    deadlines[id] = clock.GetUtcNow().AddSeconds(ttl);
                }

                response.Header = node.Fill(response.Header);
                return response;
            }
            catch (ConclaveErrorException e) when (e.Code == ErrorCode.LeaseExists && request.ID == 0 && attempt < 5)
            {
                // A generated id collided with an existing lease: pick another.
            }
        }
    }

    /// <summary>Revokes a lease of <paramref name="keyspace"/> now: its keys are deleted at one revision.</summary>
    /// <param name="user">The client's user the revoke runs as: it must be able to write every key the lease holds.</param>
    public async Task<LeaseRevokeResponse> RevokeAsync(long id, string user, CancellationToken cancellationToken)
    {
        var response = await node.ProposeAsync<LeaseRevokeResponse>(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = id }, User = user }, cancellationToken);
        lock (gate)
        {
            deadlines.Remove(id);
        }

        response.Header = node.Fill(response.Header);
        return response;
    }

    /// <summary>
    /// Renews a lease of <paramref name="keyspace"/> on the leader; returns its TTL, or 0 when it no longer exists (etcd's
    /// keep-alive answer; a lease of the other keyspace does not exist for the caller). Throws NotLeader on any other
    /// member: renewals that may arrive anywhere go through <see cref="RenewAnywhereAsync"/>.
    /// </summary>
    internal long Renew(long id, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        EnsureLeader();
        // A lease whose revoke is already on its way through the log is not renewed.
        var lease = node.Store.FindLease(id);
        if (lease is not null && lease.Keyspace != keyspace)
        {
            return 0;
        }

        lock (gate)
        {
            if (lease is null || revoking.Contains(id))
            {
                deadlines.Remove(id);
                return 0;
            }

            deadlines[id] = clock.GetUtcNow().AddSeconds(lease.Ttl);
            return lease.Ttl;
        }
    }

    /// <summary>
    /// Renews a lease from any member: the leader owns the expiry clock, so a follower passes the renewal on to
    /// it (waiting at most a few seconds for a leader).
    /// </summary>
    public async ValueTask<long> RenewAnywhereAsync(long id, CancellationToken cancellationToken, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        if (node.Consensus.IsLeader)
        {
            return Renew(id, keyspace);
        }

        using var timeout = new CancellationTokenSource(node.Options.LeaderWaitTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        while (true)
        {
            try
            {
                var answer = await node.Consensus.LeaderRequests.SendToLeaderAsync(
                    LeaderCalls.LeaseRenew, new Api.ClusterInternal.LeaseRenewRequest { Id = id, System = keyspace == KeyspaceKind.System }.ToByteArray(), linked.Token);
                if (answer is null)
                {
                    return Renew(id, keyspace);
                }

                return Api.ClusterInternal.LeaseRenewResponse.Parser.ParseFrom(answer.Value.Span).Ttl;
            }
            catch (Exception e) when ((LeaderCalls.NothingChanged(e) || e is Cluster.Peers.PeerRequestException) && !linked.IsCancellationRequested)
            {
                // Leadership moved between the lookup and the call, or the leader was not reached (a renewal may be
                // repeated: it only moves the deadline): ask again.
                await Task.Delay(TimeSpan.FromMilliseconds(20), clock, linked.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or Cluster.Peers.PeerRequestException or Cluster.ConsensusUnavailableException or Google.Protobuf.InvalidProtocolBufferException
                && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ConclaveErrorException(ErrorCode.NoLeader, $"no leader answered the keep-alive within {node.Options.LeaderWaitTimeout.TotalSeconds:0.#} s");
            }
        }
    }

    /// <summary>Serves keep-alives that followers pass to this member while it leads.</summary>
    internal void HandleLeaderRequests() =>
        LeaderCalls.Handle(node, LeaderCalls.LeaseRenew, Api.ClusterInternal.LeaseRenewRequest.Parser,
            (request, _) => Task.FromResult<Google.Protobuf.IMessage>(new Api.ClusterInternal.LeaseRenewResponse
            {
                Ttl = Renew(request.Id, request.System ? KeyspaceKind.System : KeyspaceKind.User),
            }));

    /// <summary>Seconds left before the lease expires (between zero and the granted TTL), or null when it does not exist.</summary>
    public long? RemainingSeconds(long id)
    {
        var lease = node.Store.FindLease(id);
        if (lease is null)
        {
            return null;
        }

        lock (gate)
        {
            var deadline = deadlines.TryGetValue(id, out var d) ? d : clock.GetUtcNow().AddSeconds(lease.Ttl);
            var left = deadline - clock.GetUtcNow();

            // Truncated, as etcd reports it. The grace added after a leader change (or a restart) is a server-side
            // margin, not a promise: a client is told at most the TTL it was granted, so it never renews late.
            return Math.Clamp((long)Math.Floor(left.TotalSeconds), 0, lease.Ttl);
        }
    }

    /// <summary>The longest TTL accepted (etcd's MaxLeaseTTL).</summary>
    public const long MaxTtlSeconds = 9_000_000_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(node.Options.LeaseCheckInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CheckAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogCheckFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One pass of the expiry clock: adopt leases after a leader change, revoke the expired ones.</summary>
    internal async Task CheckAsync(CancellationToken cancellationToken)
    {
        var leadership = node.Consensus.Leadership;
        var now = clock.GetUtcNow();
        var expired = new List<long>();
        lock (gate)
        {
            if (!leadership.IsHeld)
            {
                leadingTerm = 0;
                deadlines.Clear();
                return;
            }

            var newlyLeading = leadership.Term != leadingTerm;
            leadingTerm = leadership.Term;
            var ids = node.Store.LeaseTtls();
            foreach (var (id, ttl) in ids)
            {
                if (newlyLeading || !deadlines.ContainsKey(id))
                {
                    deadlines[id] = now.AddSeconds(ttl) + node.Options.LeaseLeaderChangeExtension;
                }
            }

            foreach (var id in deadlines.Keys.Where(id => !ids.ContainsKey(id)).ToList())
            {
                deadlines.Remove(id);
            }

            foreach (var (id, deadline) in deadlines)
            {
                if (deadline <= now && revoking.Add(id))
                {
                    expired.Add(id);
                }
            }
        }

        if (expired.Count == 0)
        {
            return;
        }

        await Task.WhenAll(expired.Select(id => RevokeExpiredAsync(id, cancellationToken)));
    }

    private async Task RevokeExpiredAsync(long id, CancellationToken cancellationToken)
    {
        try
        {
            // Revoked in the keyspace the lease belongs to (the configuration center's leases expire like any other).
            var keyspace = node.Store.FindLease(id)?.Keyspace ?? KeyspaceKind.User;
            await node.ProposeAsync<LeaseRevokeResponse>(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = id }, Keyspace = keyspace, ByMember = true }, cancellationToken);
            LogExpired(logger, id);
        }
        catch (ConclaveErrorException e) when (e.Code == ErrorCode.LeaseNotFound)
        {
            // Revoked by a client meanwhile.
        }
        finally
        {
            lock (gate)
            {
                revoking.Remove(id);
                deadlines.Remove(id);
            }
        }
    }

    private void EnsureLeader()
    {
        // Called for every keep-alive: the cheap check first, the full status only to explain a refusal.
        if (node.Consensus.IsLeader)
        {
            return;
        }

        var status = node.Consensus.Status;
        if (status.LeaderId == 0)
        {
            throw new ConclaveErrorException(ErrorCode.NoLeader, "no leader: lease keep-alives cannot be served");
        }

        if (status.LeaderId != status.MemberId)
        {
            throw new ConclaveErrorException(ErrorCode.NotLeader, "lease renewals are decided by the leader and this member is not the leader");
        }
    }

    private static long NewId()
    {
        // Unique, not secret (etcd derives lease ids from the member id and a clock); Random.Shared avoids loading
        // OpenSSL into the server just for this.
        return Random.Shared.NextInt64(1, long.MaxValue);
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "lease {LeaseId:x} expired and was revoked")]
    private static partial void LogExpired(ILogger logger, long leaseId);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "lease expiry check failed")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}

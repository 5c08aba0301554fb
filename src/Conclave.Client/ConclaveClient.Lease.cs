using System.Runtime.CompilerServices;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client;

// Leases: grant, revoke, inspect, keep alive. Every keep-alive of this client shares one LeaseKeepAlive stream.
public sealed partial class ConclaveClient
{
    /// <summary>
    /// Grants a lease. Keys written with it (<see cref="PutOptions.Lease"/>) are deleted, at one revision, when it
    /// expires or is revoked. Keep it alive with <see cref="KeepAliveAsync"/>, or use <see cref="CreateSessionAsync(long, CancellationToken)"/>,
    /// which does that in the background.
    /// </summary>
    /// <param name="ttlSeconds">Time to live in seconds; the server raises values below its minimum (2 s on Conclave and etcd).</param>
    /// <param name="leaseId">The ID to use; zero lets the server choose.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled grant may still be applied).</param>
    /// <returns>The lease ID and the TTL granted.</returns>
    /// <exception cref="InvalidRequestException">The TTL is over the server's limit (<see cref="InvalidRequestReason.ValueOutOfRange"/>), or the lease limit is reached.</exception>
    public async ValueTask<LeaseGrantResult> LeaseGrantAsync(long ttlSeconds, long leaseId = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ttlSeconds);
        ArgumentOutOfRangeException.ThrowIfNegative(leaseId);
        var (response, _) = await InvokeAsync(
            new LeaseGrantRequest { TTL = ttlSeconds, ID = leaseId },
            static (e, r, o) => e.Lease.LeaseGrantAsync(r, o),
            idempotent: false,
            cancellationToken,
            leaseId: leaseId).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new ConclaveException($"Lease grant failed: {response.Error}");
        }

        return new LeaseGrantResult(response.Header?.Revision ?? 0, response.ID, response.TTL);
    }

    /// <summary>Revokes a lease now: the keys attached to it are deleted at one revision.</summary>
    /// <param name="leaseId">The lease.</param>
    /// <param name="cancellationToken">Cancels the call (a canceled revoke may still be applied).</param>
    /// <returns>The revision after the revoke.</returns>
    /// <exception cref="LeaseNotFoundException">The lease does not exist (never granted, expired or already revoked).</exception>
    public async ValueTask<LeaseRevokeResult> LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(
            new LeaseRevokeRequest { ID = leaseId },
            static (e, r, o) => e.Lease.LeaseRevokeAsync(r, o),
            idempotent: false,
            cancellationToken,
            leaseId: leaseId).ConfigureAwait(false);
        return new LeaseRevokeResult(response.Header?.Revision ?? 0);
    }

    /// <summary>Reads a lease's remaining and granted TTL, and optionally its keys. A missing lease is a result with TTL -1, as in etcd.</summary>
    /// <param name="leaseId">The lease.</param>
    /// <param name="keys">Also list the keys attached to it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The TTLs (and keys); <see cref="LeaseTimeToLiveResult.Exists"/> is false when the lease does not exist.</returns>
    public async ValueTask<LeaseTimeToLiveResult> LeaseTimeToLiveAsync(long leaseId, bool keys = false, CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(
            new LeaseTimeToLiveRequest { ID = leaseId, Keys = keys },
            static (e, r, o) => e.Lease.LeaseTimeToLiveAsync(r, o),
            idempotent: true,
            cancellationToken,
            leaseId: leaseId).ConfigureAwait(false);
        return new LeaseTimeToLiveResult(response.Header?.Revision ?? 0, response.ID, response.TTL, response.GrantedTTL, [.. response.Keys]);
    }

    /// <summary>Lists the IDs of every lease that exists.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The lease IDs.</returns>
    public async ValueTask<IReadOnlyList<long>> LeasesAsync(CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(
            new LeaseLeasesRequest(),
            static (e, r, o) => e.Lease.LeaseLeasesAsync(r, o),
            idempotent: true,
            cancellationToken).ConfigureAwait(false);
        return [.. response.Leases.Select(l => l.ID)];
    }

    /// <summary>Renews a lease once, on a short-lived keep-alive stream of its own.</summary>
    /// <param name="leaseId">The lease.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The TTL the lease was renewed for.</returns>
    /// <exception cref="LeaseNotFoundException">The lease does not exist (the server answered TTL 0).</exception>
    public async ValueTask<LeaseKeepAliveResult> KeepAliveOnceAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        for (var attempt = 1; ; attempt++)
        {
            var endpoint = _endpoints.Current;
            try
            {
                using var call = endpoint.Lease.LeaseKeepAlive(CallOptionsFor(cancellationToken));
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }, cancellationToken).ConfigureAwait(false);
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    throw new ConclaveException($"{endpoint.Address} closed the keep-alive stream without answering.");
                }

                var response = call.ResponseStream.Current;
                if (response.TTL <= 0)
                {
                    throw new LeaseNotFoundException(leaseId, StatusCode.NotFound, ErrorCatalogue.MessageOf(ErrorCode.LeaseNotFound), endpoint.Address, null).WithCode(ErrorCode.LeaseNotFound);
                }

                return new LeaseKeepAliveResult(response.Header?.Revision ?? 0, response.ID, response.TTL);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The request was canceled.", ex, cancellationToken);
            }
            catch (RpcException ex) when (RpcErrorMap.IsTransient(ex) && attempt < Options.MaxAttempts)
            {
                // A renewal is safe to repeat.
                _endpoints.ReportFailure(endpoint);
                await Task.Delay(Backoff.Delay(attempt, Options.RetryBaseDelay, Options.RetryMaxDelay), Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw RpcErrorMap.ToException(ex, endpoint.Address, leaseId: leaseId);
            }
        }
    }

    /// <summary>
    /// Keeps a lease alive until the enumeration stops, yielding each answer. Renewals go out a third of the TTL
    /// after the previous answer, over the stream this client shares for all its keep-alives; it reconnects (to
    /// the next endpoint) when the stream breaks. When answers lag, older ones are dropped: the newest counts.
    /// </summary>
    /// <param name="leaseId">The lease.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>) and stops the renewals.</param>
    /// <returns>The answers, newest last.</returns>
    /// <exception cref="LeaseLostException">
    /// The lease is over: the server answered TTL 0 (<see cref="LeaseLostReason.NotFound"/>: it expired, was revoked
    /// or never existed), or no renewal was answered before its deadline (<see cref="LeaseLostReason.DeadlinePassed"/>).
    /// </exception>
    public async IAsyncEnumerable<LeaseKeepAliveResult> KeepAliveAsync(long leaseId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var now = Options.TimeProvider.GetUtcNow();
        var firstAnswer = Options.RequestTimeout == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : now + Options.DialTimeout + Options.RequestTimeout;
        using var registration = _keepAlives.Register(leaseId, now, firstAnswer, wantsAnswers: true);
        while (await registration.Answers.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (registration.Answers.TryRead(out var answer))
            {
                yield return answer;
            }
        }
    }

    /// <summary>
    /// Grants a lease and keeps it alive in the background (renewing at a third of the TTL) until the session is
    /// disposed, which revokes it. Locks (<see cref="ConclaveSession.LockAsync(string, CancellationToken)"/>) and
    /// candidacies (<see cref="ConclaveSession.CampaignAsync(string, string, CancellationToken)"/>) taken through
    /// the session last as long as its lease; <see cref="ConclaveSession.Lost"/> fires when it ends.
    /// </summary>
    /// <param name="ttlSeconds">
    /// Lease TTL in seconds: how long the cluster waits, after this process stops renewing (crash, pause,
    /// partition), before it releases the session's locks. Shorter means faster failover and more renewals.
    /// </param>
    /// <param name="cancellationToken">Cancels the grant.</param>
    /// <returns>The session; dispose it to revoke the lease.</returns>
    public async ValueTask<ConclaveSession> CreateSessionAsync(long ttlSeconds = 60, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ttlSeconds);
        var sent = Options.TimeProvider.GetUtcNow();
        var grant = await LeaseGrantAsync(ttlSeconds, 0, cancellationToken).ConfigureAwait(false);
        var ttl = TimeSpan.FromSeconds(grant.Ttl);
        KeepAliveRegistration registration;
        try
        {
            registration = _keepAlives.Register(grant.Id, sent + (ttl / 3), sent + ttl, wantsAnswers: false);
        }
        catch (ObjectDisposedException)
        {
            await TryRevokeAsync(grant.Id).ConfigureAwait(false);
            throw;
        }

        return new ConclaveSession(this, grant.Id, grant.Ttl, registration);
    }

    /// <summary>Revokes a lease, ignoring every failure: the lease expires by itself anyway.</summary>
    internal async ValueTask TryRevokeAsync(long leaseId)
    {
        try
        {
            await LeaseRevokeAsync(leaseId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException or ObjectDisposedException or OperationCanceledException)
        {
            // Already gone, or the cluster is unreachable: the TTL will end it.
        }
    }
}

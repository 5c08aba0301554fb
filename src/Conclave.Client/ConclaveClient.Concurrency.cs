using System.Globalization;
using System.Runtime.CompilerServices;
using Conclave.Api.Election;
using Conclave.Api.Errors;
using Conclave.Api.Lock;
using Conclave.Client.Internal;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Client;

// Locks and elections over etcd's Lock and Election services (v3lockpb, v3electionpb), so they work against etcd too.
public sealed partial class ConclaveClient
{
    /// <summary>The current leader of an election, or <c>null</c> when it has no candidate.</summary>
    /// <param name="name">The election's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The leader key: its value is what the leader announced, its create revision the leader's fencing token.</returns>
    public async ValueTask<KeyValueEntry?> LeaderAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        try
        {
            var (response, _) = await InvokeAsync(
                new LeaderRequest { Name = KeyBytes.From(name) },
                static (e, r, o) => e.Election.LeaderAsync(r, o),
                idempotent: true,
                cancellationToken).ConfigureAwait(false);
            return KeyValueEntry.FromOptional(response.Kv);
        }
        catch (ConclaveException e) when (e.ErrorCode == ErrorCode.ElectionNoLeader)
        {
            return null;
        }
    }

    /// <summary>
    /// Follows an election: yields the leader key now (once there is a leader) and again every time the leader
    /// changes or proclaims a new value. Reconnects (to the next endpoint) when the stream breaks, without
    /// repeating a value already yielded.
    /// </summary>
    /// <param name="name">The election's name.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The successive leader keys (value = the announced value, create revision = the fencing token).</returns>
    public async IAsyncEnumerable<KeyValueEntry> ObserveAsync(string name, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var request = new LeaderRequest { Name = KeyBytes.From(name) };
        KeyValueEntry? last = null;
        var failures = 0;
        while (true)
        {
            var endpoint = _endpoints.Current;
            using (var call = endpoint.Election.Observe(request, _headers, deadline: null, cancellationToken))
            {
                while (true)
                {
                    LeaderResponse? current = null;
                    try
                    {
                        if (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                        {
                            current = call.ResponseStream.Current;
                        }
                    }
                    catch (RpcException ex) when (cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException("The observation was canceled.", ex, cancellationToken);
                    }
                    catch (RpcException ex) when (RpcErrorMap.IsTransient(ex) || ex.StatusCode == StatusCode.Cancelled)
                    {
                        // The member went away: reconnect below.
                    }
                    catch (RpcException ex)
                    {
                        throw RpcErrorMap.ToException(ex, endpoint.Address);
                    }

                    if (current is null)
                    {
                        break;
                    }

                    failures = 0;
                    if (current.Kv is null)
                    {
                        continue;
                    }

                    var leader = KeyValueEntry.From(current.Kv);
                    if (last is not null && leader.Key.Equals(last.Key) && leader.ModRevision == last.ModRevision)
                    {
                        continue;
                    }

                    last = leader;
                    yield return leader;
                }
            }

            failures++;
            _endpoints.ReportFailure(endpoint);
            await Task.Delay(Backoff.Delay(failures, Options.RetryBaseDelay, Options.RetryMaxDelay), Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    internal async ValueTask<LockHandle> AcquireLockAsync(ConclaveSession session, ByteString name, CancellationToken cancellationToken)
    {
        if (name.IsEmpty)
        {
            throw new ArgumentException("The lock name must not be empty.", nameof(name));
        }

        session.ThrowIfLost();
        session.Claim(name);
        var acquired = false;
        try
        {
            var request = new LockRequest { Name = name, Lease = session.LeaseId };
            while (true)
            {
                var response = await WaitingCallAsync(request, static (e, r, o) => e.Lock.LockAsync(r, o), session, cancellationToken).ConfigureAwait(false);

                // The Lock service answers with the key only; its create revision (the fencing token) needs a read.
                var holder = (await GetAsync(response.Key, null, cancellationToken).ConfigureAwait(false)).First;
                if (holder is not null && holder.Lease == session.LeaseId)
                {
                    acquired = true;
                    return new LockHandle(this, session, name, holder);
                }

                // The holder key vanished between the grant and the read: the lease ended, or someone unlocked it.
                session.ThrowIfLost();
            }
        }
        catch (Exception) when (!acquired)
        {
            // Gave up or failed: the server may have queued (or even granted) us anyway. Leave the queue so nobody
            // waits on a contender that is gone. Safe: the session claimed the name, so no other handle of it uses the key.
            await TryDeleteAsync(CandidateKey(name, session.LeaseId)).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (!acquired)
            {
                session.Release(name);
            }
        }
    }

    internal async ValueTask UnlockAsync(ByteString key, CancellationToken cancellationToken)
    {
        await InvokeAsync(
            new UnlockRequest { Key = key },
            static (e, r, o) => e.Lock.UnlockAsync(r, o),
            idempotent: true,
            cancellationToken).ConfigureAwait(false);
    }

    internal async ValueTask<Leadership> CampaignAsync(ConclaveSession session, ByteString name, ByteString value, CancellationToken cancellationToken)
    {
        if (name.IsEmpty)
        {
            throw new ArgumentException("The election name must not be empty.", nameof(name));
        }

        session.ThrowIfLost();
        session.Claim(name);
        var won = false;
        try
        {
            var request = new CampaignRequest { Name = name, Lease = session.LeaseId, Value = value };
            var response = await WaitingCallAsync(request, static (e, r, o) => e.Election.CampaignAsync(r, o), session, cancellationToken).ConfigureAwait(false);
            var leader = response.Leader ?? throw new ConclaveException("The campaign was answered without a leader key.");
            won = true;
            return new Leadership(this, session, name, leader.Key, leader.Rev, value);
        }
        catch (Exception) when (!won)
        {
            await TryDeleteAsync(CandidateKey(name, session.LeaseId)).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (!won)
            {
                session.Release(name);
            }
        }
    }

    internal async ValueTask ProclaimAsync(ByteString name, ByteString key, long createRevision, long leaseId, ByteString value, CancellationToken cancellationToken)
    {
        try
        {
            await InvokeAsync(
                new ProclaimRequest { Leader = new LeaderKey { Name = name, Key = key, Rev = createRevision, Lease = leaseId }, Value = value },
                static (e, r, o) => e.Election.ProclaimAsync(r, o),
                idempotent: true,
                cancellationToken).ConfigureAwait(false);
        }
        catch (ConclaveException e) when (e.ErrorCode == ErrorCode.ElectionNotLeader)
        {
            throw new LeadershipLostException(name.ToStringUtf8(), e.StatusCode, e.ServerMessage, e.Endpoint, e).WithCode(e.ErrorCode);
        }
    }

    internal async ValueTask ResignAsync(ByteString name, ByteString key, long createRevision, long leaseId, CancellationToken cancellationToken)
    {
        await InvokeAsync(
            new ResignRequest { Leader = new LeaderKey { Name = name, Key = key, Rev = createRevision, Lease = leaseId } },
            static (e, r, o) => e.Election.ResignAsync(r, o),
            idempotent: true,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A call that waits on the server for as long as it takes (a lock or a campaign): no deadline, repeated
    /// after transport failures and leader changes for as long as the session lives. Repeating is safe because
    /// the server keys the wait by the session's lease: the same lease finds its existing place in the queue.
    /// </summary>
    private async ValueTask<TResponse> WaitingCallAsync<TRequest, TResponse>(
        TRequest request,
        Func<ClientEndpoint, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        ConclaveSession session,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, session.Lost);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.ThrowIfLost();
            var endpoint = _endpoints.Current;
            try
            {
                using var pending = call(endpoint, request, new CallOptions(_headers, deadline: null, linked.Token));
                return await pending.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The request was canceled.", ex, cancellationToken);
            }
            catch (RpcException ex) when (!session.IsAlive)
            {
                throw new LeaseLostException(session.LeaseId, session.LostReason ?? LeaseLostReason.Closed, ex);
            }
            catch (RpcException ex) when (RpcErrorMap.IsLeaseGone(ex))
            {
                session.MarkGone();
                throw new LeaseLostException(session.LeaseId, LeaseLostReason.NotFound, RpcErrorMap.ToException(ex, endpoint.Address, leaseId: session.LeaseId));
            }
            catch (RpcException ex) when (RpcErrorMap.IsTransient(ex))
            {
                _endpoints.ReportFailure(endpoint);
                try
                {
                    await Task.Delay(Backoff.Delay(attempt, Options.RetryBaseDelay, Options.RetryMaxDelay), Options.TimeProvider, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    session.ThrowIfLost(ex);
                }
            }
            catch (RpcException ex)
            {
                throw RpcErrorMap.ToException(ex, endpoint.Address, leaseId: session.LeaseId);
            }
        }
    }

    /// <summary>The key etcd's recipes give a session's place in a lock or election queue.</summary>
    private static ByteString CandidateKey(ByteString name, long leaseId) =>
        ByteString.CopyFrom([.. name.Span, (byte)'/', .. System.Text.Encoding.ASCII.GetBytes(leaseId.ToString("x", CultureInfo.InvariantCulture))]);

    private async ValueTask TryDeleteAsync(ByteString key)
    {
        try
        {
            await DeleteAsync(key, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException or ObjectDisposedException or OperationCanceledException)
        {
            // The lease ends it anyway.
        }
    }
}

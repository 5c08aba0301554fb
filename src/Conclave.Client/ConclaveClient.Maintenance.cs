using Conclave.Api.Etcd;
using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client;

// Cluster and maintenance queries: status, members, alarms.
public sealed partial class ConclaveClient
{
    private static readonly StatusRequest StatusRequestInstance = new();
    private static readonly AlarmRequest AlarmListRequest = new() { Action = AlarmRequest.Types.AlarmAction.Get };

    /// <summary>Asks one member for its status.</summary>
    /// <param name="endpoint">
    /// The endpoint to ask (one of <see cref="Endpoints"/>, in any accepted form); <c>null</c> asks the current
    /// endpoint, failing over like any read.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The member's status.</returns>
    /// <exception cref="ArgumentException"><paramref name="endpoint"/> is not one of this client's endpoints.</exception>
    public async ValueTask<EndpointStatus> StatusAsync(string? endpoint = null, CancellationToken cancellationToken = default)
    {
        ClientEndpoint? pinned = null;
        if (endpoint is not null)
        {
            var address = ClientEndpoint.Normalize(endpoint);
            foreach (var candidate in _endpoints.All)
            {
                if (candidate.Address == address)
                {
                    pinned = candidate;
                    break;
                }
            }

            if (pinned is null)
            {
                throw new ArgumentException($"Endpoint '{endpoint}' is not one of this client's endpoints ({string.Join(", ", Endpoints)}).", nameof(endpoint));
            }
        }

        var (response, served) = await InvokeAsync(
            StatusRequestInstance,
            static (e, r, o) => e.Maintenance.StatusAsync(r, o),
            idempotent: pinned is null,
            cancellationToken,
            pinned: pinned).ConfigureAwait(false);

        return new EndpointStatus(
            Endpoint: served.Address,
            MemberId: response.Header?.MemberId ?? 0,
            ClusterId: response.Header?.ClusterId ?? 0,
            Version: response.Version,
            DbSize: response.DbSize,
            DbSizeInUse: response.DbSizeInUse,
            Leader: response.Leader,
            RaftIndex: response.RaftIndex,
            RaftTerm: response.RaftTerm,
            RaftAppliedIndex: response.RaftAppliedIndex,
            Revision: response.Header?.Revision ?? 0,
            IsLearner: response.IsLearner,
            Errors: [.. response.Errors]);
    }

    /// <summary>Lists the members of the cluster.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The members, as the contacted member knows them.</returns>
    public async ValueTask<IReadOnlyList<MemberInfo>> MemberListAsync(CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(
            new MemberListRequest(),
            static (e, r, o) => e.Cluster.MemberListAsync(r, o),
            idempotent: true,
            cancellationToken).ConfigureAwait(false);

        return ToInfos(response.Members);
    }

    /// <summary>
    /// Adds a member (etcd's <c>member add</c>): it is listed at once, unstarted, and joins when started with
    /// <c>--initial-cluster-state existing</c>. A learner receives the log but does not vote until promoted.
    /// </summary>
    /// <param name="peerUrl">The new member's peer URL.</param>
    /// <param name="isLearner">Add it as a non-voting learner.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new member and the member list after the change.</returns>
    public async ValueTask<MemberChangeResult> MemberAddAsync(string peerUrl, bool isLearner = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(peerUrl);
        var request = new MemberAddRequest { IsLearner = isLearner };
        request.PeerURLs.Add(peerUrl);
        var (response, _) = await InvokeAsync(request, static (e, r, o) => e.Cluster.MemberAddAsync(r, o), idempotent: false, cancellationToken)
            .ConfigureAwait(false);
        return new MemberChangeResult(ToInfo(response.Member), ToInfos(response.Members), response.Header?.ClusterId ?? 0);
    }

    /// <summary>Removes a member (or a learner, or a member added but not started); a removed member stops.</summary>
    /// <param name="id">The member's id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The member list after the change.</returns>
    public async ValueTask<IReadOnlyList<MemberInfo>> MemberRemoveAsync(ulong id, CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(new MemberRemoveRequest { ID = id }, static (e, r, o) => e.Cluster.MemberRemoveAsync(r, o), idempotent: false, cancellationToken)
            .ConfigureAwait(false);
        return ToInfos(response.Members);
    }

    /// <summary>Promotes a learner that is in sync with the leader to a voting member.</summary>
    /// <param name="id">The learner's id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The member list after the change.</returns>
    public async ValueTask<IReadOnlyList<MemberInfo>> MemberPromoteAsync(ulong id, CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(new MemberPromoteRequest { ID = id }, static (e, r, o) => e.Cluster.MemberPromoteAsync(r, o), idempotent: false, cancellationToken)
            .ConfigureAwait(false);
        return ToInfos(response.Members);
    }

    /// <summary>
    /// Streams a snapshot of the whole state from the current endpoint into <paramref name="destination"/> (etcd's
    /// <c>Maintenance.Snapshot</c>): the image, zero-padded to whole 512-byte pages, then its SHA-256 (32 bytes), the
    /// layout <c>etcdctl snapshot save</c> checks. Not retried (bytes may already be written); no deadline, since a
    /// large state takes as long as it takes: cancel through <paramref name="cancellationToken"/>.
    /// </summary>
    /// <param name="destination">Where the bytes go; not flushed or closed here.</param>
    /// <param name="cancellationToken">Cancels the transfer.</param>
    /// <returns>The bytes written.</returns>
    /// <exception cref="ConclaveException">The member refused or the stream broke off before its last message.</exception>
    public async ValueTask<long> SnapshotAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var endpoint = _endpoints.Current;
        long written = 0;
        try
        {
            using var call = endpoint.Maintenance.Snapshot(new SnapshotRequest(), new CallOptions(_headers, deadline: null, cancellationToken));
            var complete = false;
            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                await destination.WriteAsync(response.Blob.Memory, cancellationToken).ConfigureAwait(false);
                written += response.Blob.Length;
                complete = response.RemainingBytes == 0;
            }

            if (!complete)
            {
                throw new ConclaveException($"The snapshot stream from {endpoint.Address} ended after {written} bytes, before its last message.");
            }

            return written;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The snapshot was canceled.", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw RpcErrorMap.ToException(ex, endpoint.Address, 0, 0);
        }
    }

    private static MemberInfo ToInfo(Member m) => new(m.ID, m.Name, [.. m.PeerURLs], [.. m.ClientURLs], m.IsLearner);

    private static MemberInfo[] ToInfos(IReadOnlyList<Member> members) => [.. members.Select(ToInfo)];

    /// <summary>Lists the alarms raised in the cluster (for example NOSPACE when the storage quota is exhausted).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The active alarms; empty when there are none.</returns>
    public async ValueTask<IReadOnlyList<AlarmInfo>> AlarmListAsync(CancellationToken cancellationToken = default)
    {
        var (response, _) = await InvokeAsync(
            AlarmListRequest,
            static (e, r, o) => e.Maintenance.AlarmAsync(r, o),
            idempotent: true,
            cancellationToken).ConfigureAwait(false);

        var alarms = new AlarmInfo[response.Alarms.Count];
        for (var i = 0; i < alarms.Length; i++)
        {
            alarms[i] = new AlarmInfo(response.Alarms[i].MemberID, (AlarmKind)response.Alarms[i].Alarm);
        }

        return alarms;
    }
}

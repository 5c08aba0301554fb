using Conclave.Api.Etcd;
using Conclave.Client.Internal;

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

        var members = new MemberInfo[response.Members.Count];
        for (var i = 0; i < members.Length; i++)
        {
            var m = response.Members[i];
            members[i] = new MemberInfo(m.ID, m.Name, [.. m.PeerURLs], [.. m.ClientURLs], m.IsLearner);
        }

        return members;
    }

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

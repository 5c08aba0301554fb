using System.Globalization;
using Conclave.Api.Etcd;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Http;

/// <summary>The cluster as the console shows it: members, leader, term, indexes, health; leases; locks and elections held.</summary>
internal static class ClusterHttpApi
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/cluster", StatusAsync).Produces<ClusterView>();
        // Lease and lock holders name keys of every user: the root role's while auth is enabled.
        api.MapGet("/cluster/leases", Leases).Produces<List<LeaseView>>().AddEndpointFilter(static (context, next) =>
        {
            Security.Auth.HttpSignIn.RequireAdmin(context.HttpContext);
            return next(context);
        });
        api.MapGet("/cluster/locks", Locks).Produces<List<LockView>>().AddEndpointFilter(static (context, next) =>
        {
            Security.Auth.HttpSignIn.RequireAdmin(context.HttpContext);
            return next(context);
        });
    }

    private static async Task<IResult> StatusAsync(ConclaveNode node, CancellationToken cancellationToken)
    {
        var reason = await HttpEndpoints.UnhealthyReasonAsync(node, cancellationToken);
        var status = node.Consensus.Status;
        var members = status.Members.Select(m => new MemberView(
            Hex(m.Id), m.Name, m.PeerUrls, m.Id == status.MemberId ? node.ClientUrls : m.ClientUrls, m.IsLearner, m.Id == status.LeaderId, m.Id == status.MemberId)).ToList();
        // Learners are recorded in the system keyspace, not in the Raft configuration (see RecordedMembership).
        members.AddRange(node.Members.Learners().Where(l => members.All(m => m.Id != Hex(l.Id))).Select(l => new MemberView(
            Hex(l.Id), l.Name, l.PeerUrls, l.Id == status.MemberId ? node.ClientUrls : l.ClientUrls, true, false, l.Id == status.MemberId)));
        var (revision, compacted) = node.Store.Revisions;
        return Results.Ok(new ClusterView(
            Hex(status.ClusterId), Hex(status.MemberId), status.LeaderId == 0 ? null : Hex(status.LeaderId), status.LeaderId != 0 && status.LeaderId == status.MemberId,
            status.Term, status.CommitIndex, status.AppliedIndex, revision, compacted, node.Store.SizeBytes, node.Options.QuotaBackendBytes,
            node.Store.KeyCount, node.Store.LeaseCount, reason is null, reason ?? "",
            node.Store.Alarms.Select(a => a.Alarm.ToString().ToUpperInvariant()).ToList(), members));
    }

    private static IResult Leases(ConclaveNode node, LeaseKeeper keeper) =>
        Results.Ok(node.Store.ListLeases()
            .OrderBy(l => l.Id)
            .Select(l => new LeaseView(KeyView.LeaseId(l.Id)!, l.Ttl, keeper.RemainingSeconds(l.Id), Names(l.Keys), Names(l.SystemKeys)))
            .ToList());

    private static List<string> Names(IEnumerable<ByteString> keys) => keys.Select(k => k.ToStringUtf8()).Order(StringComparer.Ordinal).ToList();

    private static IResult Locks(ConclaveNode node)
    {
        var queues = new Dictionary<string, List<LockHolderView>>(StringComparer.Ordinal);
        var values = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var lease in node.Store.ListLeases())
        {
            var suffix = "/" + KeyView.LeaseId(lease.Id);
            foreach (var key in lease.Keys)
            {
                var text = key.ToStringUtf8();
                if (!text.EndsWith(suffix, StringComparison.Ordinal) || text.Length == suffix.Length)
                {
                    continue;
                }

                var kv = node.Store.Range(new RangeRequest { Key = key, Serializable = true }).Kvs.FirstOrDefault();
                if (kv is null)
                {
                    continue;
                }

                var name = text[..^suffix.Length];
                var value = KeyView.Text(kv.Value, out _);
                (queues.TryGetValue(name, out var queue) ? queue : queues[name] = []).Add(new LockHolderView(text, KeyView.LeaseId(lease.Id)!, kv.CreateRevision, value));
                values[name] = values.GetValueOrDefault(name) || !kv.Value.IsEmpty;
            }
        }

        return Results.Ok(queues.OrderBy(q => q.Key, StringComparer.Ordinal).Select(q =>
        {
            var ordered = q.Value.OrderBy(h => h.CreateRevision).ToList();
            return new LockView(q.Key, values[q.Key] ? "election" : "lock", ordered[0], ordered.Skip(1).ToList());
        }).ToList());
    }

    private static string Hex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);
}

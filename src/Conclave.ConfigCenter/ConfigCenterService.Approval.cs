using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter;

/// <summary>
/// Release approval (ADR 0015): on a namespace that requires it, a publish files a request holding the working copy as
/// it is; another person with the release permission approves it (the release then ships exactly that content) or
/// rejects it. An approval is refused once the working copy no longer matches the request, and by the person who asked.
/// Approve and reject are changes of the namespace record too, so two decisions on one request cannot both apply.
/// </summary>
public sealed partial class ConfigCenterService
{
    /// <summary>Publishes the working copy, or files a release request when the namespace requires approval.</summary>
    public async ValueTask<PublishOutcome> PublishOrRequestAsync(string app, string env, string ns, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        return n.RequireApproval
            ? new PublishOutcome(null, await RequestReleaseAsync(app, env, ns, title, comment, expectedRevision, who, cancellationToken))
            : new PublishOutcome(await PublishAsync(app, env, ns, title, comment, expectedRevision, who, cancellationToken), null);
    }

    /// <summary>Files a release request for the working copy as it is (validated now, as a publish would be).</summary>
    public async ValueTask<ReleaseRequest> RequestReleaseAsync(string app, string env, string ns, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ReleaseRequest? request = null;
        await MutateAsync(app, env, ns, expectedRevision, who, "release.request", title ?? "", ReadKeyIfSecret, (n, key) =>
        {
            var content = WorkingContent(n);
            DocumentValidator.Validate(n.Format, key is null ? content : NamespaceSecrets.OpenedWorkingContent(n, key), n.Schema, Limits);
            request = new ReleaseRequest
            {
                App = app, Env = env, Namespace = ns, Id = n.LastRequestId + 1, Title = title ?? "", Comment = comment ?? "",
                RequestedBy = who.Author, RequestedAt = clock.GetUtcNow(), Content = content, ContentHash = Hash(content),
                Configurations = n.Format == NamespaceFormat.Properties ? ToMap(n.Items) : new Dictionary<string, string>(),
            };
            return (n with { LastRequestId = request.Id }, [ConfigStore.Put(ConfigKeys.Request(app, env, ns, request.Id), request)]);
        }, cancellationToken);
        return request!;
    }

    /// <summary>Approves a pending request: the release ships the requested content, authored by the requester, approved by <paramref name="who"/>.</summary>
    public async ValueTask<ReleaseRecord> ApproveAsync(string app, string env, string ns, long requestId, string? comment, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var request = await PendingRequestAsync(app, env, ns, requestId, cancellationToken);
        if (request.RequestedBy == who.Author)
        {
            throw new ConfigCenterException(ConfigErrorKind.PermissionDenied, $"{who.Author} asked for release request {requestId} of {app}/{env}/{ns} and may not approve it: another person with the release permission must");
        }

        ReleaseRecord? release = null;
        await MutateAsync(app, env, ns, 0, who, "release.approve", $"request {requestId}", ReadKeyIfSecret, async (n, key) =>
        {
            var current = await DecidableAsync(n, requestId, cancellationToken);
            if (Hash(WorkingContent(n)) != current.ContentHash)
            {
                throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                    $"the working copy of {app}/{env}/{ns} changed since release request {requestId} was filed: reject it and request a release again");
            }

            release = NewRelease(n, ReleaseKind.Normal, current.Title, current.Comment, new ChangeContext(current.RequestedBy), current.Content, key) with { ApprovedBy = who.Author };
            var history = History(n, "publish", release.Id, n.HeadReleaseId, null, who, $"approved request {requestId}{(string.IsNullOrEmpty(comment) ? "" : ": " + comment)}");
            var decided = current with { Status = ReleaseRequestStatus.Approved, DecidedBy = who.Author, DecidedAt = clock.GetUtcNow(), DecisionComment = comment ?? "", ReleaseId = release.Id };
            return (n with { HeadReleaseId = release.Id, LastReleaseId = release.Id, LastHistoryId = history.Id },
                (List<Api.Etcd.RequestOp>)[ReleasePut(release), HistoryPut(n, history), ConfigStore.Put(ConfigKeys.Request(app, env, ns, requestId), decided)]);
        }, cancellationToken);
        return release!;
    }

    /// <summary>Rejects a pending request (the requester may withdraw their own); nothing ships.</summary>
    public async ValueTask<ReleaseRequest> RejectAsync(string app, string env, string ns, long requestId, string? comment, ChangeContext who, CancellationToken cancellationToken = default)
    {
        await PendingRequestAsync(app, env, ns, requestId, cancellationToken);
        ReleaseRequest? decided = null;
        await MutateAsync(app, env, ns, 0, who, "release.reject", $"request {requestId}", _ => KeyUse.None, async (n, _) =>
        {
            decided = await DecidableAsync(n, requestId, cancellationToken) with { Status = ReleaseRequestStatus.Rejected, DecidedBy = who.Author, DecidedAt = clock.GetUtcNow(), DecisionComment = comment ?? "" };
            return (n, (List<Api.Etcd.RequestOp>)[ConfigStore.Put(ConfigKeys.Request(app, env, ns, requestId), decided)]);
        }, cancellationToken);
        return decided!;
    }

    /// <summary>The namespace's release requests, newest first, optionally only those in <paramref name="status"/>.</summary>
    public async ValueTask<IReadOnlyList<ReleaseRequest>> ListRequestsAsync(string app, string env, string ns, ReleaseRequestStatus? status, int limit = 50, CancellationToken cancellationToken = default)
    {
        await Store.NamespaceAsync(app, env, ns, cancellationToken);
        var all = await Store.ListAsync<ReleaseRequest>(ConfigKeys.Requests(app, env, ns), cancellationToken, descending: true);
        return [.. all.Select(x => x.Value).Where(r => status is null || r.Status == status).Take(Math.Clamp(limit, 1, 1000))];
    }

    /// <summary>One request and what it would change against the namespace's current main release (what an approver reviews).</summary>
    public async ValueTask<(ReleaseRequest Request, IReadOnlyList<DiffEntry> Diff)> GetRequestAsync(string app, string env, string ns, long requestId, CancellationToken cancellationToken = default)
    {
        var n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        var request = (await Store.GetAsync<ReleaseRequest>(ConfigKeys.Request(app, env, ns, requestId), cancellationToken)).Value
            ?? throw new ConfigCenterException(ConfigErrorKind.NotFound, $"release request {requestId} of {app}/{env}/{ns} does not exist");
        var head = await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken);
        // Secret values are masked (as in every diff without reveal): the approver sees which secrets change, not their values.
        var diff = ReleaseDiff.Compare(n.Format, head?.Content, head?.Configurations, request.Content, request.Configurations);
        var secretKeys = n.Items.Where(i => i.Secret).Select(i => i.Key).Concat(head?.SecretKeys ?? []).ToHashSet(StringComparer.Ordinal);
        return (request, MaskDiff(diff, secretKeys, n.Secret || head?.Sealed == true, reveal: false));
    }

    private async ValueTask<ReleaseRequest> PendingRequestAsync(string app, string env, string ns, long requestId, CancellationToken cancellationToken)
    {
        var request = (await Store.GetAsync<ReleaseRequest>(ConfigKeys.Request(app, env, ns, requestId), cancellationToken)).Value;
        if (request is null)
        {
            await Store.NamespaceAsync(app, env, ns, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"release request {requestId} of {app}/{env}/{ns} does not exist");
        }

        return request.Status == ReleaseRequestStatus.Pending
            ? request
            : throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"release request {requestId} of {app}/{env}/{ns} was already {request.Status.ToString().ToLowerInvariant()} by {request.DecidedBy}");
    }

    /// <summary>The request as the namespace record being changed sees it: it must still be pending (read inside the change, so two decisions cannot both apply).</summary>
    private async ValueTask<ReleaseRequest> DecidableAsync(NamespaceRecord n, long requestId, CancellationToken cancellationToken)
    {
        // MutateAsync's transaction is guarded by the namespace record, which every decision rewrites: a decision that read
        // the request before another decision applied fails that guard and runs again, seeing the request decided.
        var request = (await Store.GetAsync<ReleaseRequest>(ConfigKeys.Request(n.App, n.Env, n.Name, requestId), cancellationToken)).Value;
        return request is { Status: ReleaseRequestStatus.Pending }
            ? request
            : throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"release request {requestId} of {n.App}/{n.Env}/{n.Name} is no longer pending");
    }
}

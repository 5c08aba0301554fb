using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

// Bodies of the /api/v1 JSON API (camelCase on the wire). expectedRevision: the namespace revision the
// editor read; when set, a change made since then answers 409 instead of being overwritten.

public sealed record CreateAppBody(string Id, string? Name, string? Owner);

public sealed record CreateEnvironmentBody(string Name);

// secret: every value of the namespace (each item, or the whole document) is sealed before it is stored.
public sealed record CreateNamespaceBody(string Name, NamespaceFormat Format, string? Schema, bool Public = false, bool Secret = false);

public sealed record AssociateBody(string BaseApp);

// secret: seal the value (an item once secret stays secret; sending the mask back keeps its value).
public sealed record SetItemBody(string? Value, string? Comment, long ExpectedRevision, bool Secret = false);

public sealed record SetContentBody(string? Content, long ExpectedRevision);

public sealed record SetSchemaBody(string? Schema, long ExpectedRevision);

public sealed record PublishBody(string? Title, string? Comment, long ExpectedRevision);

/// <summary>A rollback; <see cref="Edits"/> says what happens to unpublished edits: refuse (default), discard or keep.</summary>
public sealed record RollbackBody(long ToReleaseId, string? Comment, long ExpectedRevision, string? Edits = null, bool IgnoreSchema = false);

/// <summary>A gray release; with <see cref="Plan"/>, a progressive rollout whose first step sets the percentage.</summary>
public sealed record GrayPublishBody(GrayRule Rule, string? Title, string? Comment, long ExpectedRevision, RolloutPlanBody? Plan = null);

/// <summary>
/// A rollout plan: its steps (percentage, bake seconds), or <see cref="Text"/> as people write it ("1%,10%@5m,100%@10m",
/// or a strategy name: Conclave.ConfigCenter.RolloutPlanText), and the limits that halt it.
/// </summary>
public sealed record RolloutPlanBody(IReadOnlyList<RolloutStep>? Steps = null, string? Text = null, double? MaxRejectedPercent = null, double? MaxUnhealthyPercent = null, int? MinReports = null)
{
    public Conclave.ConfigCenter.RolloutSpec ToSpec() =>
        new(Text is { } text ? Conclave.ConfigCenter.RolloutPlanText.Parse(text) : Steps ?? [], MaxRejectedPercent ?? 5, MaxUnhealthyPercent ?? 5, MinReports ?? 1);
}

public sealed record RolloutSkipBody(int Step, long ExpectedRevision);

public sealed record RolloutAbortBody(string? Reason, long ExpectedRevision);

public sealed record GrayRuleBody(GrayRule Rule, long ExpectedRevision);

public sealed record GuardBody(long ExpectedRevision);

/// <summary>A delivery report; for a flags namespace it may carry the instance's evaluation counts (docs/feature-flags.md).</summary>
public sealed record ReportBody(string InstanceId, IReadOnlyList<string>? Labels, long ReleaseId, DeliveryStatus Status, string? Reason, IReadOnlyList<FlagEvaluationCount>? FlagEvaluations = null);

public sealed record ValidateBody(string? Content);

/// <summary>Hands an app to another owner (a user name).</summary>
public sealed record OwnerBody(string Owner);

/// <summary>A subject: <c>user:NAME</c> or <c>role:NAME</c>.</summary>
public sealed record SubjectBody(string Subject);

/// <summary>A grant; env and namespace default to <c>*</c> (all of them).</summary>
public sealed record GrantBody(string Subject, ConfigPermission Permission, string? Env, string? Namespace);

/// <summary>A namespace's release policy (ADR 0015).</summary>
public sealed record PolicyBody(bool SeparateEditAndRelease, bool? RequireApproval);

/// <summary>An approval's or rejection's comment.</summary>
public sealed record DecisionBody(string? Comment);

/// <summary>A release request with what it would change against the current main release.</summary>
public sealed record ReleaseRequestView(ReleaseRequest Request, DiffEntry[] Diff);

/// <summary>A new app credential's name (who or what will use it).</summary>
public sealed record CreateCredentialBody(string? Name);

// A webhook (ADR 0016): env/namespace narrow it (null: all); events are action names or families (null: the defaults).
public sealed record CreateWebhookBody(string Url, string? Env, string? Namespace, string[]? Events, string? Description);

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

public sealed record RollbackBody(long ToReleaseId, string? Comment, long ExpectedRevision);

public sealed record GrayPublishBody(GrayRule Rule, string? Title, string? Comment, long ExpectedRevision);

public sealed record GrayRuleBody(GrayRule Rule, long ExpectedRevision);

public sealed record GuardBody(long ExpectedRevision);

public sealed record ReportBody(string InstanceId, IReadOnlyList<string>? Labels, long ReleaseId, DeliveryStatus Status, string? Reason);

public sealed record ValidateBody(string? Content);

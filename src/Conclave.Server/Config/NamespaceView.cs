using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

/// <summary>
/// A namespace as the HTTP API shows it: the stored record, its working content and its revision. Build it from a record
/// already passed through <see cref="ConfigCenterService.ViewAsync(NamespaceRecord, bool, ChangeContext, CancellationToken)"/>,
/// so secret values are masked (or revealed).
/// </summary>
public sealed record NamespaceView(
    string App,
    string Env,
    string Name,
    NamespaceFormat Format,
    string? Schema,
    bool IsPublic,
    bool Secret,
    string? BaseApp,
    IReadOnlyList<ConfigItem> Items,
    string Content,
    long HeadReleaseId,
    GrayState? Gray,
    long LastReleaseId,
    DateTimeOffset UpdatedAt,
    string UpdatedBy,
    long Revision,
    bool SeparateEditAndRelease,
    bool RequireApproval,
    IReadOnlyList<string> Editors)
{
    /// <summary>The latest rollout plan (driving the gray release while running or paused, else how it ended).</summary>
    public RolloutPlan? Rollout { get; init; }

    public static NamespaceView Of(NamespaceRecord n) => new(
        n.App, n.Env, n.Name, n.Format, n.Schema, n.IsPublic, n.Secret, n.BaseApp, n.Items, ConfigCenterService.WorkingContent(n),
        n.HeadReleaseId, n.Gray, n.LastReleaseId, n.UpdatedAt, n.UpdatedBy, n.Revision, n.SeparateEditAndRelease, n.RequireApproval, n.Editors)
    {
        Rollout = n.Rollout,
    };
}

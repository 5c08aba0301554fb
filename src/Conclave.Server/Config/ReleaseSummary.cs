using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

/// <summary>A release without its content.</summary>
public sealed record ReleaseSummary(long Id, ReleaseKind Kind, string Title, string Author, DateTimeOffset CreatedAt)
{
    public static ReleaseSummary Of(ReleaseRecord r) => new(r.Id, r.Kind, r.Title, r.Author, r.CreatedAt);
}

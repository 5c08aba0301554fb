using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

/// <summary>
/// A namespace in an environment's overview: its main release (null before the first publish), its gray release,
/// and whether the working copy differs from the main release (<see cref="Unpublished"/>).
/// </summary>
public sealed record NamespaceSummary(
    string Name, NamespaceFormat Format, long Revision, ReleaseSummary? Head, GrayState? Gray, bool Unpublished, DateTimeOffset UpdatedAt, string UpdatedBy);

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// Which instances receive a gray release: an instance matches when its id is listed, when it carries every
/// label of <see cref="Labels"/> (if any are given), or when its cohort bucket falls under
/// <see cref="Percentage"/>.
/// </summary>
public sealed record GrayRule
{
    public IReadOnlyList<string> InstanceIds { get; set; } = [];

    /// <summary>Labels as <c>key=value</c>; all must match.</summary>
    public IReadOnlyList<string> Labels { get; set; } = [];

    /// <summary>0 to 100, up to two decimals (buckets are 0.01% wide).</summary>
    public double Percentage { get; init; }
}

namespace Conclave.ConfigCenter.Model;

/// <summary>The release one instance should run for one namespace, gray rules resolved.</summary>
public sealed record EffectiveRelease(ReleaseRecord Release, bool IsGray);

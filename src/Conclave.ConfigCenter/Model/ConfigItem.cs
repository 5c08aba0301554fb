namespace Conclave.ConfigCenter.Model;

/// <summary>One key of a properties namespace's working copy.</summary>
public sealed record ConfigItem(string Key, string Value, string? Comment = null);

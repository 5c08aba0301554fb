namespace Conclave.ConfigCenter.Model;

/// <summary>
/// One key of a properties namespace's working copy. A <see cref="Secret"/> item's <see cref="Value"/> is stored sealed
/// (<see cref="Secrets.SealedValue"/>); views show it masked unless the reader may reveal it.
/// </summary>
public sealed record ConfigItem(string Key, string Value, string? Comment = null, bool Secret = false);

using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

[JsonConverter(typeof(JsonStringEnumConverter<DiffChange>))]
public enum DiffChange
{
    Added,
    Removed,
    Changed,
}

/// <summary>One difference between two versions of a namespace: a key for properties, the whole document otherwise (key "").</summary>
public sealed record DiffEntry(string Key, DiffChange Change, string? OldValue, string? NewValue);

using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// A namespace's data keys, wrapped by a master key, at <c>config/v1/keys/{app}/{env}/{ns}</c> (format version 1).
/// Created in the transaction that writes the namespace's first secret; re-wrapped in place by a rotation. Exports
/// carry it too, so a cluster with the same master key can open what they hold.
/// </summary>
public sealed record DataKeyRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Env { get; init; }

    public required string Namespace { get; init; }

    /// <summary>Every version of the data key; sealed values name the version they were sealed with.</summary>
    public IReadOnlyList<WrappedDataKey> Keys { get; set; } = [];
}

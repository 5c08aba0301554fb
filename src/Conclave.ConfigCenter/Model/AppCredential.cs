using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// An app credential (Apollo's access key, Nacos' AK/SK; ADR 0015 decision 5), kept at
/// <c>config/v1/credentials/{app}/{env}/{id}</c>. Only the SHA-256 of the 256-bit random secret is stored: a random
/// secret of that size needs no slow KDF, and the keyspace (log, snapshots, backups) never holds the secret itself.
/// </summary>
public sealed record AppCredential
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Env { get; init; }

    /// <summary>The public half of the key (<see cref="AccessKey"/>), url-safe.</summary>
    public required string Id { get; init; }

    /// <summary>What it is for (e.g. <c>orders-api pods</c>).</summary>
    public string Name { get; set; } = "";

    /// <summary>SHA-256 of the secret's 32 bytes, lower-case hex.</summary>
    public required string SecretHash { get; init; }

    /// <summary>The last four characters of the secret's text, so a person can tell two keys apart.</summary>
    public string Hint { get; set; } = "";

    public required DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }

    public string? RevokedBy { get; init; }

    [JsonIgnore]
    public bool Active => RevokedAt is null;
}

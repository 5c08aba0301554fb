using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// Who may do what in one app (ADR 0015), kept at <c>config/v1/access/{app}</c>: the admins (besides the owner on the
/// app record) and the per-environment, per-namespace grants. Subjects are <c>user:NAME</c> or <c>role:NAME</c> (a role
/// of the auth store, or a group an OIDC provider vouches for).
/// </summary>
public sealed record AppAccess
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    /// <summary>Subjects with every permission on the app, who also manage its access and credentials.</summary>
    public IReadOnlyList<string> Admins { get; set; } = [];

    public IReadOnlyList<AccessGrant> Grants { get; set; } = [];

    /// <summary>The keyspace revision this record was last written at (0: the app has no record yet).</summary>
    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>One grant: <paramref name="Subject"/> may <paramref name="Permission"/> in environment <paramref name="Env"/>
/// and namespace <paramref name="Namespace"/> (<c>*</c>: all of them).</summary>
public sealed record AccessGrant(string Subject, ConfigPermission Permission, string Env = "*", string Namespace = "*");

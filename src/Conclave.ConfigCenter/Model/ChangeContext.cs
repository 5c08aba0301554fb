using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// Who asks for a change, from where, and what the member knows of them (ADR 0015). With auth disabled on the member
/// nothing is <see cref="Enforced"/>: every caller may do everything, as etcd with auth disabled, and the author is
/// what the caller declares. With auth enabled the author is the authenticated user and every change is checked
/// against the app's access record.
/// </summary>
public sealed record ChangeContext(string Author, string? From = null)
{
    /// <summary>Permissions are checked (auth is enabled on the member).</summary>
    public bool Enforced { get; set; }

    /// <summary>The caller holds etcd's root role: every permission on every app.</summary>
    public bool IsAdmin { get; set; }

    /// <summary>The caller's roles: the auth store's roles of a local user, or the groups an OIDC provider vouches for.</summary>
    public IReadOnlyList<string> Roles { get; set; } = [];

    /// <summary>The request's id, for the audit (the caller's <c>X-Request-Id</c>, or the member's own).</summary>
    public string? RequestId { get; set; }

    /// <summary>An actor with no permissions checked (auth disabled, or the member's own work), named <paramref name="author"/>.</summary>
    public static ChangeContext Unchecked(string author, string? from = null) => new(author, from);

    /// <summary>Whether <paramref name="subject"/> (<c>user:NAME</c> or <c>role:NAME</c>) names this actor.</summary>
    public bool Is(string subject) =>
        subject.StartsWith("user:", StringComparison.Ordinal) ? subject.AsSpan(5).SequenceEqual(Author)
        : subject.StartsWith("role:", StringComparison.Ordinal) && Roles.Contains(subject[5..], StringComparer.Ordinal);

    [JsonIgnore]
    internal string Subject => $"user:{Author}";
}

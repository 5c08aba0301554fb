namespace Conclave.ConfigCenter.Model;

/// <summary>What listing shows of a credential: never its secret or hash, at most the secret's last four characters.</summary>
public sealed record CredentialView(
    string App, string Env, string Id, string Name, string Hint, DateTimeOffset CreatedAt, string CreatedBy,
    DateTimeOffset? RevokedAt, string? RevokedBy)
{
    public bool Active => RevokedAt is null;

    public static CredentialView Of(AppCredential c) => new(c.App, c.Env, c.Id, c.Name, c.Hint, c.CreatedAt, c.CreatedBy, c.RevokedAt, c.RevokedBy);
}

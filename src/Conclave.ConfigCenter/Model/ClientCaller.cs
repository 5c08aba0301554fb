namespace Conclave.ConfigCenter.Model;

/// <summary>
/// Who calls a client endpoint (<c>Fetch</c>, <c>Subscribe</c>, <c>Report</c>, HTTP <c>effective</c>/<c>reports</c>): the
/// access key it presented, if any; the signed-in user, if any; and whether auth is enabled on the member.
/// </summary>
public sealed record ClientCaller(string? AccessKey, string? User, bool AuthEnabled)
{
    /// <summary>The signed-in user with their roles, for the permission a user needs to receive secret values.</summary>
    public ChangeContext? Person { get; init; }

    /// <summary>The call arrived over TLS or from loopback: the only channels secret values are delivered on.</summary>
    public bool SecureChannel { get; init; } = true;
}

/// <summary>
/// Why a client call was let in: an app credential (read at <see cref="Revision"/>, so a subscription can watch it
/// from there), a signed-in user, or neither (the app and environment need no credential).
/// </summary>
public sealed record ClientAccess(AppCredential? Credential, long Revision, string? User)
{
    public static readonly ClientAccess Open = new(null, 0, null);

    /// <summary>See <see cref="ClientCaller.Person"/>.</summary>
    public ChangeContext? Person { get; init; }

    /// <summary>See <see cref="ClientCaller.SecureChannel"/>.</summary>
    public bool SecureChannel { get; init; } = true;
}

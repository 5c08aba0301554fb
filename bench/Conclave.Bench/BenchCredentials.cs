namespace Conclave.Bench;

/// <summary>
/// <c>--user name:password</c> (etcdctl's form): each connection calls Auth/Authenticate once and sends the token it
/// gets as <c>token</c> metadata on every request after.
/// </summary>
internal sealed record BenchCredentials(string Name, string Password)
{
    /// <exception cref="ArgumentException">No colon, or an empty name.</exception>
    public static BenchCredentials Parse(string value)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new ArgumentException("--user must be name:password, e.g. --user bench:benchpw.");
        }

        return new BenchCredentials(value[..colon], value[(colon + 1)..]);
    }

    /// <summary>The name only: the password stays out of messages and reports.</summary>
    public override string ToString() => Name;
}

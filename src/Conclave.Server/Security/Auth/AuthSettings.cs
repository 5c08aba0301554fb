namespace Conclave.Server.Security.Auth;

/// <summary>How members check who is calling (ADR 0014), with etcd's flags.</summary>
public sealed record AuthSettings
{
    /// <summary>
    /// How long a token from <c>Authenticate</c> is good for (<c>--auth-token-ttl</c>, seconds in etcd; default 300).
    /// </summary>
    public TimeSpan TokenTtl { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>bcrypt cost for passwords set through this member (<c>--bcrypt-cost</c>, 4 to 31; etcd's default 10).</summary>
    public int BcryptCost { get; init; } = 10;

    /// <summary>Password checks (bcrypt) that may run at once; more wait, and past twice as many are refused as too many requests.</summary>
    public int ConcurrentPasswordChecks { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Reads <c>--auth-token</c>: <c>simple</c> (the default) is the only kind this build issues.</summary>
    /// <exception cref="ArgumentException">Another kind.</exception>
    public static void ValidateTokenKind(string? text)
    {
        var kind = text?.Split(',', 2)[0].Trim();
        if (!string.IsNullOrEmpty(kind) && kind != "simple")
        {
            throw new ArgumentException($"--auth-token '{text}': this build issues 'simple' tokens (signed by the cluster, checked by every member); 'jwt' is not supported yet");
        }
    }
}

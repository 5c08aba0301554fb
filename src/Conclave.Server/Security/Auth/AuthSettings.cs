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

    /// <summary>JWT tokens instead of simple ones (<c>--auth-token jwt,...</c>); null: simple tokens.</summary>
    public JwtSettings? Jwt { get; init; }

    /// <summary>
    /// Reads <c>--auth-token</c> as etcd does: <c>simple</c> (the default), or
    /// <c>jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m</c>.
    /// </summary>
    /// <returns>The JWT settings, or null for simple tokens.</returns>
    /// <exception cref="ArgumentException">Another kind, an unknown or missing option, or a method this build cannot do.</exception>
    public static JwtSettings? ParseTokenOption(string? text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        switch (parts[0])
        {
            case "" or "simple" when parts.Length == 1:
                return null;
            case "jwt":
                break;
            default:
                throw new ArgumentException($"--auth-token '{text}': 'simple' or 'jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m'");
        }

        string? pub = null, priv = null, method = null;
        var ttl = TimeSpan.FromMinutes(5); // etcd's default for JWTs
        foreach (var part in parts[1..])
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = eq < 0 ? (part, "") : (part[..eq], part[(eq + 1)..]);
            switch (name)
            {
                case "pub-key": pub = value; break;
                case "priv-key": priv = value; break;
                case "sign-method": method = value; break;
                case "ttl": ttl = ParseDuration(value) ?? throw new ArgumentException($"--auth-token: ttl '{value}' is not a duration such as 5m, 90s or 1h30m"); break;
                default: throw new ArgumentException($"--auth-token: unknown option '{name}' (pub-key, priv-key, sign-method, ttl)");
            }
        }

        if (string.IsNullOrEmpty(method))
        {
            throw new ArgumentException("--auth-token jwt: sign-method is required (RS256/384/512, PS256/384/512, ES256/384/512, HS256/384/512)");
        }

        if (method is not ("RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512" or "ES256" or "ES384" or "ES512" or "HS256" or "HS384" or "HS512"))
        {
            throw new ArgumentException(method == "EdDSA"
                ? "--auth-token jwt: sign-method EdDSA is not available in this build (.NET has no Ed25519); use ES256 or RS256"
                : $"--auth-token jwt: unknown sign-method '{method}' (RS256/384/512, PS256/384/512, ES256/384/512, HS256/384/512)");
        }

        if (method[0] == 'H' ? string.IsNullOrEmpty(priv) : string.IsNullOrEmpty(priv) && string.IsNullOrEmpty(pub))
        {
            throw new ArgumentException(method[0] == 'H'
                ? $"--auth-token jwt: {method} needs priv-key (the file holding the shared secret)"
                : $"--auth-token jwt: {method} needs priv-key (to sign and check) or pub-key (to check only)");
        }

        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentException("--auth-token jwt: ttl must be positive");
        }

        return new JwtSettings(method, string.IsNullOrEmpty(priv) ? null : priv, string.IsNullOrEmpty(pub) ? null : pub, ttl);
    }

    /// <summary>A Go duration as etcd takes it ("5m", "1h30m", "90s", "500ms"); null when it is not one.</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        var i = 0;
        if (text.Length == 0)
        {
            return null;
        }

        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }

            if (unitStart == start || !double.TryParse(text.AsSpan(start, unitStart - start), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                return null;
            }

            var unit = text[unitStart..i] switch
            {
                "h" => TimeSpan.FromHours(1),
                "m" => TimeSpan.FromMinutes(1),
                "s" => TimeSpan.FromSeconds(1),
                "ms" => TimeSpan.FromMilliseconds(1),
                _ => (TimeSpan?)null,
            };
            if (unit is null || n > 1e6)
            {
                return null;
            }

            total += unit.Value * n;
        }

        return total;
    }
}

/// <summary>JWT tokens as etcd's <c>--auth-token jwt,...</c>: the signing method, key files and token lifetime.</summary>
/// <param name="SignMethod">RS256/384/512, PS256/384/512, ES256/384/512 or HS256/384/512.</param>
/// <param name="PrivateKeyFile">PEM private key (or, for HS*, the shared secret's file); null: this member only checks tokens.</param>
/// <param name="PublicKeyFile">PEM public key; optional next to the private key (then it must be its public half).</param>
/// <param name="Ttl">How long a token is good for (etcd's default 5 minutes).</param>
public sealed record JwtSettings(string SignMethod, string? PrivateKeyFile, string? PublicKeyFile, TimeSpan Ttl);

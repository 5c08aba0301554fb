using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Conclave.Server.Security.Auth.Oidc;

/// <summary>A sign-in through the provider that cannot go on; the message is shown on the console's sign-in page.</summary>
internal sealed class OidcException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Who the provider vouches for: the user's name and groups, from a validated ID token.</summary>
internal sealed record OidcIdentity(string Name, IReadOnlyList<string> Groups, string Subject);

/// <summary>
/// The provider's signing keys (its JWKS document): RSA and EC P-256/P-384 public keys, by key id. Keys of other kinds,
/// or meant for encryption (<c>use: enc</c>), are skipped.
/// </summary>
internal sealed class JsonWebKeys
{
    /// <summary>A JWKS document larger than this is refused.</summary>
    public const int MaxBytes = 256 * 1024;

    private readonly List<Key> keys;

    private JsonWebKeys(List<Key> keys) => this.keys = keys;

    internal sealed record Key(string? Id, string Type, string? Algorithm, RSAParameters? Rsa, ECParameters? Ec, string? Curve = null);

    public int Count => keys.Count;

    /// <exception cref="OidcException">Not a JWKS document.</exception>
    public static JsonWebKeys Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            throw new OidcException($"the provider's signing keys (JWKS) are larger than {MaxBytes} bytes");
        }

        // JsonDocument checks UTF-8 only when a string is read: checked here, once.
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new OidcException("the provider's JWKS document is not UTF-8");
        }

        try
        {
            using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("keys", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new OidcException("the provider's JWKS document has no \"keys\" array");
            }

            var keys = new List<Key>();
            foreach (var k in list.EnumerateArray())
            {
                if (k.ValueKind != JsonValueKind.Object || Str(k, "use") is { } use && use != "sig")
                {
                    continue;
                }

                var kid = Str(k, "kid");
                var alg = Str(k, "alg");
                switch (Str(k, "kty"))
                {
                    case "RSA" when Bytes(k, "n") is { Length: >= 256 } n && Bytes(k, "e") is { Length: > 0 } e:
                        keys.Add(new Key(kid, "RSA", alg, new RSAParameters { Modulus = n, Exponent = e }, null));
                        break;
                    case "EC" when Str(k, "crv") is "P-256" or "P-384" && Bytes(k, "x") is { } x && Bytes(k, "y") is { } y
                                   && x.Length == (Str(k, "crv") == "P-256" ? 32 : 48) && y.Length == x.Length:
                        var curve = Str(k, "crv") == "P-256" ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
                        keys.Add(new Key(kid, "EC", alg, null, new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } }, Str(k, "crv")));
                        break;
                }
            }

            return new JsonWebKeys(keys);
        }
        catch (JsonException e)
        {
            throw new OidcException("the provider's JWKS document is not valid JSON", e);
        }
    }

    /// <summary>The keys that may have signed a token with this header (by key id when it names one).</summary>
    public IEnumerable<Key> Candidates(string? kid, string alg)
    {
        var type = alg.StartsWith("ES", StringComparison.Ordinal) ? "EC" : "RSA";
        return keys.Where(k => k.Type == type && (kid is null || k.Id == kid) && (k.Algorithm is null || k.Algorithm == alg));
    }

    public bool HasKey(string? kid) => kid is null || keys.Any(k => k.Id == kid);

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static byte[]? Bytes(JsonElement e, string name) => Str(e, name) is { } s ? Base64Url.Decode(s) : null;
}

/// <summary>
/// Checks an ID token (OpenID Connect Core 3.1.3.7): a compact JWS signed with RS256/384/512, PS256 or ES256/384 by a key
/// of the provider's JWKS, issued by the configured issuer for this client (<c>aud</c>, and <c>azp</c> when there are
/// several audiences), not expired, carrying the nonce this browser's sign-in sent. Untrusted bytes all the way: every
/// malformed input ends in an <see cref="OidcException"/>, nothing else (IdTokensPropertyTests).
/// </summary>
internal static class IdTokens
{
    /// <summary>An ID token longer than this is refused before anything is decoded.</summary>
    public const int MaxChars = 16 * 1024;

    /// <summary>Allowed clock difference with the provider.</summary>
    public static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    /// <summary>The identity in a valid token.</summary>
    /// <exception cref="OidcException">The token is malformed, not signed by the provider, or not meant for this sign-in.</exception>
    public static OidcIdentity Validate(string token, JsonWebKeys keys, string issuer, string clientId, string nonce, DateTimeOffset now, OidcSettings settings)
    {
        var (header, payload, signingInput, signature) = Split(token);
        using var headerDoc = ParseObject(header, "header");
        var alg = Str(headerDoc.RootElement, "alg") ?? throw new OidcException("the ID token's header names no algorithm");
        var kid = Str(headerDoc.RootElement, "kid");
        if (headerDoc.RootElement.TryGetProperty("crit", out _))
        {
            throw new OidcException("the ID token's header has critical extensions this member does not know");
        }

        if (!Verify(alg, kid, keys, signingInput, signature))
        {
            throw new OidcException($"the ID token's signature is not valid for any of the provider's keys (alg {alg}{(kid is null ? "" : $", key {kid}")})");
        }

        using var claims = ParseObject(payload, "payload");
        var root = claims.RootElement;
        if (Str(root, "iss") != issuer)
        {
            throw new OidcException($"the ID token was issued by '{Str(root, "iss")}', not by the configured issuer '{issuer}'");
        }

        var audiences = Audiences(root);
        if (!audiences.Contains(clientId, StringComparer.Ordinal))
        {
            throw new OidcException($"the ID token is meant for another client (audience {string.Join(", ", audiences)}), not this console ('{clientId}')");
        }

        if ((audiences.Count > 1 || root.TryGetProperty("azp", out _)) && Str(root, "azp") != clientId)
        {
            throw new OidcException($"the ID token's authorized party is '{Str(root, "azp")}', not this console ('{clientId}')");
        }

        var exp = Seconds(root, "exp") ?? throw new OidcException("the ID token has no expiry (exp)");
        if (DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(exp, -62135596800L, 253402300799L)) + Skew <= now)
        {
            throw new OidcException("the ID token has expired; sign in again");
        }

        if (Seconds(root, "iat") is { } iat && DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(iat, -62135596800L, 253402300799L)) - Skew > now)
        {
            throw new OidcException("the ID token was issued in the future (are the clocks of this member and the provider apart?)");
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Str(root, "nonce") ?? ""), Encoding.UTF8.GetBytes(nonce)))
        {
            throw new OidcException("the ID token does not carry this sign-in's nonce (a replayed or injected token)");
        }

        var subject = Str(root, "sub") ?? throw new OidcException("the ID token names no subject (sub)");
        var name = Str(root, settings.UsernameClaim) is { Length: > 0 } preferred ? preferred : subject;
        return new OidcIdentity(name, Groups(root, settings.GroupsClaim), subject);
    }

    private static (byte[] Header, byte[] Payload, byte[] SigningInput, byte[] Signature) Split(string token)
    {
        if (token.Length > MaxChars)
        {
            throw new OidcException($"the ID token is longer than {MaxChars} characters");
        }

        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            throw new OidcException(parts.Length == 5 ? "the ID token is encrypted (JWE), which this member does not accept" : "the ID token is not a signed JWT (three dot-separated parts)");
        }

        var header = Base64Url.Decode(parts[0]) ?? throw new OidcException("the ID token's header is not base64url");
        var payload = Base64Url.Decode(parts[1]) ?? throw new OidcException("the ID token's payload is not base64url");
        var signature = Base64Url.Decode(parts[2]) ?? throw new OidcException("the ID token's signature is not base64url");
        return (header, payload, Encoding.ASCII.GetBytes(token, 0, parts[0].Length + 1 + parts[1].Length), signature);
    }

    private static bool Verify(string alg, string? kid, JsonWebKeys keys, byte[] input, byte[] signature)
    {
        var (hash, pss) = alg switch
        {
            "RS256" or "ES256" => (HashAlgorithmName.SHA256, false),
            "PS256" => (HashAlgorithmName.SHA256, true),
            "RS384" or "ES384" => (HashAlgorithmName.SHA384, false),
            "RS512" => (HashAlgorithmName.SHA512, false),
            _ => throw new OidcException($"the ID token is signed with '{alg}'; this member accepts RS256, RS384, RS512, PS256, ES256 and ES384"),
        };
        foreach (var key in keys.Candidates(kid, alg))
        {
            try
            {
                if (key.Rsa is { } rsaParameters)
                {
                    using var rsa = RSA.Create(rsaParameters);
                    if (rsa.VerifyData(input, signature, hash, pss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1))
                    {
                        return true;
                    }
                }
                else if (key.Ec is { } ecParameters && key.Curve == (alg == "ES256" ? "P-256" : "P-384"))
                {
                    using var ec = ECDsa.Create(ecParameters);
                    if (signature.Length == 2 * ecParameters.Q.X!.Length && ec.VerifyData(input, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                    {
                        return true;
                    }
                }
            }
            catch (CryptographicException)
            {
                // A key the platform refuses (bad parameters) verifies nothing.
            }
        }

        return false;
    }

    private static JsonDocument ParseObject(byte[] json, string part)
    {
        // JsonDocument checks UTF-8 only when a string is read: checked here, once.
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new OidcException($"the ID token's {part} is not UTF-8");
        }

        try
        {
            var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new OidcException($"the ID token's {part} is not a JSON object");
            }

            return doc;
        }
        catch (JsonException e)
        {
            throw new OidcException($"the ID token's {part} is not valid JSON", e);
        }
    }

    private static List<string> Audiences(JsonElement root) => root.TryGetProperty("aud", out var aud)
        ? aud.ValueKind switch
        {
            JsonValueKind.String => [aud.GetString()!],
            JsonValueKind.Array => [.. aud.EnumerateArray().Where(static a => a.ValueKind == JsonValueKind.String).Select(static a => a.GetString()!)],
            _ => [],
        }
        : [];

    /// <summary>The groups claim: an array of strings, or one string; anything else is no groups.</summary>
    private static List<string> Groups(JsonElement root, string claim) => root.TryGetProperty(claim, out var groups)
        ? groups.ValueKind switch
        {
            JsonValueKind.String => [groups.GetString()!],
            JsonValueKind.Array => [.. groups.EnumerateArray().Where(static g => g.ValueKind == JsonValueKind.String).Select(static g => g.GetString()!).Distinct(StringComparer.Ordinal)],
            _ => [],
        }
        : [];

    private static long? Seconds(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d)
            ? (long)Math.Clamp(d, long.MinValue / 2, long.MaxValue / 2)
            : null;

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>base64url without padding (RFC 7515 appendix C).</summary>
internal static class Base64Url
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The bytes, or null when the text is not base64url.</summary>
    public static byte[]? Decode(string text)
    {
        if (text.Length % 4 == 1 || !text.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return null;
        }

        var padded = text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - text.Length % 4) % 4);
        var bytes = new byte[padded.Length / 4 * 3];
        return Convert.TryFromBase64String(padded, bytes, out var written) ? bytes[..written] : null;
    }
}

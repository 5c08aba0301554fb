using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Conclave.Api.Errors;
using Conclave.Storage.Auth;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// etcd's JWT tokens (<c>--auth-token jwt,pub-key=...,priv-key=...,sign-method=RS256,ttl=5m</c>): the claims etcd puts in
/// them (<c>username</c>, <c>revision</c>, <c>exp</c>), signed with the configured key, so any holder of the public key
/// (another member, a gateway, a service) can check one without asking a member. Members given only <c>pub-key</c>
/// check tokens and issue none, as etcd's verify-only members.
/// </summary>
/// <remarks>
/// A token is good until its <c>exp</c> (no renewal on use, as etcd's), and ends earlier when its user is deleted or its
/// password changes: <c>revision</c> is the auth revision it was issued at, and a token older than the user's credentials
/// is refused. The header's <c>alg</c> must be the configured method (no <c>none</c>, no switching an RSA public key into
/// an HMAC secret); the signature is checked before the claims are read.
/// </remarks>
internal sealed class JwtTokens : IAuthTokens, IDisposable
{
    /// <summary>Longer texts are refused before any decoding (an RS512 token with a 4096-bit key is about 800 characters).</summary>
    public const int MaxTokenChars = 4096;

    private readonly JwtSettings settings;
    private readonly TimeProvider clock;
    private readonly string encodedHeader;
    private readonly AsymmetricAlgorithm? key;
    private readonly byte[]? secret;
    private readonly bool canSign;
    private readonly HashAlgorithmName hash;

    public JwtTokens(JwtSettings settings, TimeProvider clock)
    {
        this.settings = settings;
        this.clock = clock;
        encodedHeader = SimpleTokens.Base64Url(Encoding.UTF8.GetBytes($"{{\"alg\":\"{settings.SignMethod}\",\"typ\":\"JWT\"}}"));
        hash = settings.SignMethod[2..] switch
        {
            "256" => HashAlgorithmName.SHA256,
            "384" => HashAlgorithmName.SHA384,
            _ => HashAlgorithmName.SHA512,
        };
        switch (settings.SignMethod[0])
        {
            case 'H':
                secret = ReadKeyFile(settings.PrivateKeyFile!, File.ReadAllBytes);
                if (secret.Length < 32)
                {
                    throw new ArgumentException($"--auth-token: the {settings.SignMethod} secret in {settings.PrivateKeyFile} has {secret.Length} bytes; use at least 32");
                }

                canSign = true;
                break;
            case 'R' or 'P':
                var rsa = RSA.Create();
                Import(rsa, settings);
                key = rsa;
                canSign = settings.PrivateKeyFile is not null;
                break;
            default:
                var ec = ECDsa.Create();
                Import(ec, settings);
                var expected = settings.SignMethod switch { "ES256" => 256, "ES384" => 384, _ => 521 };
                if (ec.KeySize != expected)
                {
                    throw new ArgumentException($"--auth-token: {settings.SignMethod} needs a P-{expected} key; the key is {ec.KeySize} bits");
                }

                key = ec;
                canSign = settings.PrivateKeyFile is not null;
                break;
        }

        if (key is RSA { KeySize: < 2048 } small)
        {
            throw new ArgumentException($"--auth-token: the RSA key has {small.KeySize} bits; use at least 2048");
        }
    }

    public TimeSpan Ttl => settings.Ttl;

    public void Dispose() => key?.Dispose();

    public string Issue(AuthState state, AuthUser user)
    {
        if (!canSign)
        {
            throw new ConclaveErrorException(ErrorCode.NotCapable, "this member checks JWTs but cannot sign them (--auth-token jwt without priv-key): authenticate on a member that has the private key");
        }

        var claims = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(claims))
        {
            json.WriteStartObject();
            json.WriteString("username", user.Name);
            json.WriteNumber("revision", state.Revision);
            json.WriteNumber("exp", clock.GetUtcNow().Add(settings.Ttl).ToUnixTimeSeconds());
            json.WriteEndObject();
        }

        var signingInput = $"{encodedHeader}.{SimpleTokens.Base64Url(claims.WrittenSpan)}";
        return $"{signingInput}.{SimpleTokens.Base64Url(Sign(Encoding.ASCII.GetBytes(signingInput)))}";
    }

    public string Validate(AuthState state, string token)
    {
        if (token.Length > MaxTokenChars)
        {
            throw Invalid("not a token of this cluster");
        }

        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first <= 0 || second <= first + 1 || second == token.Length - 1 || token.IndexOf('.', second + 1) >= 0)
        {
            throw Invalid("not a JWT (header.claims.signature)");
        }

        if (SimpleTokens.FromBase64Url(token.AsSpan(0, first)) is not { } header || AlgorithmOf(header) != settings.SignMethod)
        {
            throw Invalid($"not a JWT signed with {settings.SignMethod}");
        }

        var signature = SimpleTokens.FromBase64Url(token.AsSpan(second + 1));
        if (signature is null || !Verify(Encoding.ASCII.GetBytes(token, 0, second), signature))
        {
            throw Invalid("the token's signature does not match this cluster's key");
        }

        if (SimpleTokens.FromBase64Url(token.AsSpan(first + 1, second - first - 1)) is not { } payload || !TryReadClaims(payload, out var name, out var revision, out var expires))
        {
            throw Invalid("the token's claims are not etcd's (username, revision, exp)");
        }

        if (expires <= clock.GetUtcNow().ToUnixTimeSeconds())
        {
            throw Invalid("the token has expired; authenticate again");
        }

        if (state.FindUser(name) is not { } user || revision < user.CredentialRevision)
        {
            throw Invalid($"the token's user '{name}' was deleted or its password changed; authenticate again");
        }

        return name;
    }

    private byte[] Sign(byte[] input) => settings.SignMethod[0] switch
    {
        'H' => HmacOf(input),
        'R' => ((RSA)key!).SignData(input, hash, RSASignaturePadding.Pkcs1),
        'P' => ((RSA)key!).SignData(input, hash, RSASignaturePadding.Pss),
        _ => ((ECDsa)key!).SignData(input, hash), // IEEE P1363 (r || s), as JWS wants
    };

    private bool Verify(byte[] input, byte[] signature)
    {
        try
        {
            return settings.SignMethod[0] switch
            {
                'H' => CryptographicOperations.FixedTimeEquals(HmacOf(input), signature),
                'R' => ((RSA)key!).VerifyData(input, signature, hash, RSASignaturePadding.Pkcs1),
                'P' => ((RSA)key!).VerifyData(input, signature, hash, RSASignaturePadding.Pss),
                _ => ((ECDsa)key!).VerifyData(input, signature, hash),
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private byte[] HmacOf(byte[] input) => hash.Name switch
    {
        "SHA256" => HMACSHA256.HashData(secret!, input),
        "SHA384" => HMACSHA384.HashData(secret!, input),
        _ => HMACSHA512.HashData(secret!, input),
    };

    private static readonly JsonReaderOptions Shallow = new() { MaxDepth = 2 };

    /// <summary>The header's <c>alg</c>, or null when the header is not a flat JSON object naming one.</summary>
    private static string? AlgorithmOf(byte[] header)
    {
        try
        {
            var reader = new Utf8JsonReader(header, Shallow);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            string? alg = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isAlg = reader.ValueTextEquals("alg"u8);
                reader.Read();
                if (isAlg)
                {
                    if (alg is not null || reader.TokenType != JsonTokenType.String)
                    {
                        return null;
                    }

                    alg = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }

            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() ? alg : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) // malformed JSON, or a string that is not UTF-8
        {
            return null;
        }
    }

    private static bool TryReadClaims(byte[] payload, out string name, out long revision, out long expires)
    {
        name = "";
        revision = -1;
        expires = long.MinValue;
        string? user = null;
        try
        {
            var reader = new Utf8JsonReader(payload, Shallow);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var which = reader.ValueTextEquals("username"u8) ? 0 : reader.ValueTextEquals("revision"u8) ? 1 : reader.ValueTextEquals("exp"u8) ? 2 : -1;
                reader.Read();
                switch (which)
                {
                    case 0 when reader.TokenType == JsonTokenType.String && user is null:
                        user = reader.GetString();
                        break;
                    case 1 when reader.TokenType == JsonTokenType.Number && revision < 0 && reader.TryGetInt64(out var r) && r >= 0:
                        revision = r;
                        break;
                    case 2 when reader.TokenType == JsonTokenType.Number && expires == long.MinValue && reader.TryGetInt64(out var e):
                        expires = e;
                        break;
                    case -1 when reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray):
                        break; // another flat claim (iat, nbf, ...): not etcd's, ignored as etcd ignores it
                    default:
                        return false;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || user is null || revision < 0 || expires == long.MinValue)
            {
                return false;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) // malformed JSON, or a string that is not UTF-8
        {
            return false;
        }

        name = user;
        return true;
    }

    private static void Import(AsymmetricAlgorithm algorithm, JwtSettings settings)
    {
        var path = settings.PrivateKeyFile ?? settings.PublicKeyFile!;
        try
        {
            algorithm.ImportFromPem(ReadKeyFile(path, File.ReadAllText));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new ArgumentException($"--auth-token: {path} holds no {(algorithm is RSA ? "RSA" : "EC")} key in PEM form for {settings.SignMethod} ({e.Message})");
        }

        if (settings.PrivateKeyFile is not null && settings.PublicKeyFile is not null)
        {
            // Both given: they must be one pair, or tokens this member signs would fail everywhere else.
            using var other = algorithm is RSA ? (AsymmetricAlgorithm)RSA.Create() : ECDsa.Create();
            try
            {
                other.ImportFromPem(ReadKeyFile(settings.PublicKeyFile, File.ReadAllText));
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                throw new ArgumentException($"--auth-token: {settings.PublicKeyFile} holds no {(algorithm is RSA ? "RSA" : "EC")} public key in PEM form ({e.Message})");
            }

            if (!algorithm.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(other.ExportSubjectPublicKeyInfo()))
            {
                throw new ArgumentException($"--auth-token: pub-key {settings.PublicKeyFile} is not the public half of priv-key {settings.PrivateKeyFile}");
            }
        }
    }

    private static T ReadKeyFile<T>(string path, Func<string, T> read)
    {
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--auth-token: cannot read {path}: {e.Message}");
        }
    }

    private static ConclaveErrorException Invalid(string detail) => new(ErrorCode.InvalidAuthToken, detail);
}

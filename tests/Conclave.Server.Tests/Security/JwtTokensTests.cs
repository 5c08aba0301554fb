using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Conclave.Api.Auth;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Security.Auth;
using Conclave.Storage;
using Conclave.Storage.Auth;
using Google.Protobuf;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// etcd's JWT tokens (<c>--auth-token jwt,...</c>): etcd's claims, standard JWS signatures for every method, a
/// verify-only member that checks and never issues, expiry without renewal, the end of a token with its user's
/// credentials, no algorithm switching (<c>none</c>, an RSA public key used as an HMAC secret), and a parser of this
/// untrusted text that refuses every mutation and hostile claim set with "invalid auth token" and nothing else.
/// </summary>
public sealed class JwtTokensTests : IDisposable
{
    private readonly KeyValueStore store = new();
    private readonly ManualClock clock = new();
    private readonly TempDirectory keys = TempDirectory.Create("conclave-jwt-");
    private long index;

    public JwtTokensTests()
    {
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "root", HashedPassword = Hash } });
        Apply(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } });
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "alice", HashedPassword = Hash } });
        Apply(new AuthCommand { Enable = new AuthEnable { TokenKey = ByteString.CopyFrom(new byte[32]) } });
    }

    private const string Hash = "$2a$04$abcdefghijklmnopqrstuuDq3Qm7gSbV2tG8yVxkYd8Ev3qGQ8Xh2";

    public void Dispose()
    {
        store.Dispose();
        keys.Dispose();
    }

    private void Apply(AuthCommand change)
    {
        var result = store.Apply(++index, KeyValueStore.Encode([new Command { Auth = change, User = "root" }]))[0];
        Assert.IsNotType<ConclaveErrorException>(result);
    }

    private AuthUser Alice => store.Auth.FindUser("alice")!;

    /// <summary>A key pair (or HMAC secret) for <paramref name="method"/> in PEM files: (private, public).</summary>
    private (string Private, string Public) KeyFiles(string method, string name = "k")
    {
        var (priv, pub) = (keys.Combine($"{name}.key"), keys.Combine($"{name}.pub"));
        switch (method[0])
        {
            case 'H':
                File.WriteAllBytes(priv, RandomNumberGenerator.GetBytes(64));
                return (priv, "");
            case 'R' or 'P':
                using (var rsa = RSA.Create(2048))
                {
                    File.WriteAllText(priv, rsa.ExportPkcs8PrivateKeyPem());
                    File.WriteAllText(pub, rsa.ExportSubjectPublicKeyInfoPem());
                }

                return (priv, pub);
            default:
                var curve = method switch { "ES256" => ECCurve.NamedCurves.nistP256, "ES384" => ECCurve.NamedCurves.nistP384, _ => ECCurve.NamedCurves.nistP521 };
                using (var ec = ECDsa.Create(curve))
                {
                    File.WriteAllText(priv, ec.ExportECPrivateKeyPem());
                    File.WriteAllText(pub, ec.ExportSubjectPublicKeyInfoPem());
                }

                return (priv, pub);
        }
    }

    private JwtTokens Member(string method, string? priv, string? pub, TimeSpan? ttl = null) =>
        new(new JwtSettings(method, priv, pub, ttl ?? TimeSpan.FromMinutes(5)), clock);

    private static void Invalid(Action check) => Assert.Equal(ErrorCode.InvalidAuthToken, Assert.Throws<ConclaveErrorException>(check).Code);

    private static JsonElement Part(string token, int part) =>
        JsonDocument.Parse(SimpleTokens.FromBase64Url(token.Split('.')[part]) ?? throw new FormatException(token)).RootElement;

    [Theory]
    [InlineData("RS256")]
    [InlineData("RS512")]
    [InlineData("PS256")]
    [InlineData("PS384")]
    [InlineData("ES256")]
    [InlineData("ES384")]
    [InlineData("ES512")]
    [InlineData("HS256")]
    [InlineData("HS512")]
    public void A_token_carries_etcds_claims_and_holds_on_every_member_with_the_key(string method)
    {
        var (priv, pub) = KeyFiles(method);
        using var issuer = Member(method, priv, method[0] == 'H' ? null : pub);
        var token = issuer.Issue(store.Auth, Alice);

        var header = Part(token, 0);
        Assert.Equal(method, header.GetProperty("alg").GetString());
        Assert.Equal("JWT", header.GetProperty("typ").GetString());
        var claims = Part(token, 1);
        Assert.Equal("alice", claims.GetProperty("username").GetString());
        Assert.Equal(store.Auth.Revision, claims.GetProperty("revision").GetInt64());
        Assert.Equal(clock.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds(), claims.GetProperty("exp").GetInt64());

        // Another member with the same key, and (asymmetric methods) one that holds only the public key.
        using var other = Member(method, priv, null);
        Assert.Equal("alice", other.Validate(store.Auth, token));
        if (method[0] != 'H')
        {
            using var verifyOnly = Member(method, null, pub);
            Assert.Equal("alice", verifyOnly.Validate(store.Auth, token));
            Assert.Equal(ErrorCode.NotCapable, Assert.Throws<ConclaveErrorException>(() => verifyOnly.Issue(store.Auth, Alice)).Code);
        }

        // The signature is standard JWS: checked here independently of JwtTokens, for the RSA methods.
        if (method[0] == 'R')
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(File.ReadAllText(pub));
            var parts = token.Split('.');
            Assert.True(rsa.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), SimpleTokens.FromBase64Url(parts[2])!, method == "RS256" ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1));
        }
    }

    [Fact]
    public void A_token_ends_at_its_exp_however_often_it_is_used()
    {
        var (priv, _) = KeyFiles("ES256");
        using var tokens = Member("ES256", priv, null, TimeSpan.FromMinutes(2));
        var token = tokens.Issue(store.Auth, Alice);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("alice", tokens.Validate(store.Auth, token));
            clock.Advance(TimeSpan.FromSeconds(39));
        }

        clock.Advance(TimeSpan.FromSeconds(3)); // 120 s after issue
        Invalid(() => tokens.Validate(store.Auth, token));
    }

    [Fact]
    public void A_password_change_or_a_deleted_user_ends_the_token_and_other_auth_changes_do_not()
    {
        var (priv, _) = KeyFiles("RS256");
        using var tokens = Member("RS256", priv, null);
        var token = tokens.Issue(store.Auth, Alice);

        Apply(new AuthCommand { RoleAdd = new AuthRoleAddRequest { Name = "app" } });
        Apply(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "alice", Role = "app" } });
        Assert.Equal("alice", tokens.Validate(store.Auth, token));

        Apply(new AuthCommand { UserChangePassword = new AuthUserChangePasswordRequest { Name = "alice", HashedPassword = Hash } });
        Invalid(() => tokens.Validate(store.Auth, token));

        token = tokens.Issue(store.Auth, Alice);
        Assert.Equal("alice", tokens.Validate(store.Auth, token));
        Apply(new AuthCommand { UserDelete = new AuthUserDeleteRequest { Name = "alice" } });
        Invalid(() => tokens.Validate(store.Auth, token));
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "alice", HashedPassword = Hash } });
        Invalid(() => tokens.Validate(store.Auth, token)); // the same name again is another user
    }

    [Fact]
    public void Another_key_or_another_algorithm_is_refused_however_the_header_is_dressed()
    {
        var (priv, pub) = KeyFiles("RS256");
        var (otherPriv, _) = KeyFiles("RS256", "other");
        using var tokens = Member("RS256", priv, pub);
        using var stranger = Member("RS256", otherPriv, null);
        Invalid(() => tokens.Validate(store.Auth, stranger.Issue(store.Auth, Alice)));

        var claims = SimpleTokens.Base64Url(Encoding.UTF8.GetBytes($$"""{"username":"root","revision":{{store.Auth.Revision}},"exp":{{clock.GetUtcNow().AddHours(1).ToUnixTimeSeconds()}}}"""));
        string Header(string alg) => SimpleTokens.Base64Url(Encoding.UTF8.GetBytes($$"""{"alg":"{{alg}}","typ":"JWT"}"""));

        // alg none, with and without a signature part.
        Invalid(() => tokens.Validate(store.Auth, $"{Header("none")}.{claims}."));
        Invalid(() => tokens.Validate(store.Auth, $"{Header("none")}.{claims}.AAAA"));

        // The classic confusion: HS256 with the RSA public key's bytes as the HMAC secret.
        var input = $"{Header("HS256")}.{claims}";
        var forged = HMACSHA256.HashData(File.ReadAllBytes(pub), Encoding.ASCII.GetBytes(input));
        Invalid(() => tokens.Validate(store.Auth, $"{input}.{SimpleTokens.Base64Url(forged)}"));

        // A real RS256 signature under a header naming another method (or two alg entries) is not accepted either.
        using var rsa = RSA.Create();
        rsa.ImportFromPem(File.ReadAllText(priv));
        foreach (var header in new[] { Header("RS512"), Header("rs256"), SimpleTokens.Base64Url("""{"alg":"RS256","alg":"none"}"""u8), SimpleTokens.Base64Url("""["RS256"]"""u8) })
        {
            var signed = $"{header}.{claims}";
            var signature = rsa.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            Invalid(() => tokens.Validate(store.Auth, $"{signed}.{SimpleTokens.Base64Url(signature)}"));
        }
    }

    [Fact]
    public void Signed_claims_that_are_not_etcds_are_refused()
    {
        var (priv, _) = KeyFiles("HS256");
        using var tokens = Member("HS256", priv, null);
        var secret = File.ReadAllBytes(priv);
        var header = SimpleTokens.Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8);
        var exp = clock.GetUtcNow().AddHours(1).ToUnixTimeSeconds();
        var rev = store.Auth.Revision;
        string Signed(string claims)
        {
            var input = $"{header}.{SimpleTokens.Base64Url(Encoding.UTF8.GetBytes(claims))}";
            return $"{input}.{SimpleTokens.Base64Url(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)))}";
        }

        // Well formed, with an unknown claim next to etcd's: accepted.
        Assert.Equal("alice", tokens.Validate(store.Auth, Signed($$"""{"username":"alice","revision":{{rev}},"exp":{{exp}},"iat":1}""")));

        foreach (var claims in new[]
        {
            $$"""{"revision":{{rev}},"exp":{{exp}}}""",
            $$"""{"username":"alice","exp":{{exp}}}""",
            $$"""{"username":"alice","revision":{{rev}}}""",
            $$"""{"username":"alice","revision":"{{rev}}","exp":{{exp}}}""",
            $$"""{"username":"alice","revision":{{rev}},"exp":"{{exp}}"}""",
            $$"""{"username":"alice","revision":-1,"exp":{{exp}}}""",
            $$"""{"username":"alice","revision":{{rev}},"exp":1e300}""",
            $$"""{"username":"alice","username":"root","revision":{{rev}},"exp":{{exp}}}""",
            $$"""{"username":["alice"],"revision":{{rev}},"exp":{{exp}}}""",
            $$"""{"username":"alice","revision":{{rev}},"exp":{{exp}},"x":{"y":1} }""",
            $$"""{"username":"alice","revision":{{rev}},"exp":{{exp}},"x":[1]}""",
            $$"""{"username":"alice","revision":{{rev}},"exp":{{exp}}}{}""",
            $$"""{"username":"nobody","revision":{{rev}},"exp":{{exp}}}""",
            $$"""{"username":"alice","revision":{{rev}},"exp":{{clock.GetUtcNow().ToUnixTimeSeconds()}}}""",
            "[]",
            "null",
            "",
            new string('[', 10_000),
        })
        {
            Invalid(() => tokens.Validate(store.Auth, Signed(claims)));
        }
    }

    [Fact]
    public void Mutated_tokens_and_garbage_are_refused_as_invalid_tokens_and_nothing_else()
    {
        var (priv, _) = KeyFiles("ES256");
        using var tokens = Member("ES256", priv, null);
        var token = tokens.Issue(store.Auth, Alice);
        foreach (var mutated in TokenMutations.Of(token, seed: 20261206, count: 20_000, maxGarbage: 5000))
        {
            Invalid(() => tokens.Validate(store.Auth, mutated));
        }
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("simple", null)]
    [InlineData("jwt,sign-method=RS256,priv-key=/k", "RS256 /k - 00:05:00")]
    [InlineData("jwt, pub-key=/p, sign-method=ES384, ttl=1h30m", "ES384 - /p 01:30:00")]
    [InlineData("jwt,priv-key=/s,sign-method=HS256,ttl=90s", "HS256 /s - 00:01:30")]
    [InlineData("jwt,priv-key=/s,sign-method=HS256,ttl=1.5m", "HS256 /s - 00:01:30")]
    public void Reads_the_auth_token_flag_as_etcd(string text, string? expected)
    {
        var jwt = AuthSettings.ParseTokenOption(text);
        Assert.Equal(expected, jwt is null ? null : $"{jwt.SignMethod} {jwt.PrivateKeyFile ?? "-"} {jwt.PublicKeyFile ?? "-"} {jwt.Ttl:c}");
    }

    [Theory]
    [InlineData("jwt", "sign-method is required")]
    [InlineData("jwt,sign-method=RS256", "needs priv-key")]
    [InlineData("jwt,sign-method=HS256,pub-key=/p", "needs priv-key")]
    [InlineData("jwt,sign-method=EdDSA,priv-key=/k", "EdDSA is not available")]
    [InlineData("jwt,sign-method=none,priv-key=/k", "unknown sign-method 'none'")]
    [InlineData("jwt,sign-method=RS256,priv-key=/k,ttl=5", "ttl '5'")]
    [InlineData("jwt,sign-method=RS256,priv-key=/k,ttl=0s", "ttl must be positive")]
    [InlineData("jwt,sign-method=RS256,priv-key=/k,key=/x", "unknown option 'key'")]
    [InlineData("oauth", "'simple' or 'jwt")]
    [InlineData("simple,x", "'simple' or 'jwt")]
    public void Refuses_a_flag_it_cannot_honour_and_says_why(string text, string message)
    {
        var refused = Assert.Throws<ArgumentException>(() => AuthSettings.ParseTokenOption(text));
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_keys_that_do_not_fit_at_start()
    {
        var (priv, _) = KeyFiles("RS256");
        var (_, otherPub) = KeyFiles("RS256", "other");
        var (ecPriv, _) = KeyFiles("ES384", "ec");
        var small = keys.Combine("small.key");
        using (var rsa = RSA.Create(1024))
        {
            File.WriteAllText(small, rsa.ExportPkcs8PrivateKeyPem());
        }

        var shortSecret = keys.Combine("short.secret");
        File.WriteAllBytes(shortSecret, new byte[16]);

        foreach (var (settings, message) in new (JwtSettings, string)[]
        {
            (new("RS256", priv, otherPub, TimeSpan.FromMinutes(1)), "is not the public half"),
            (new("RS256", small, null, TimeSpan.FromMinutes(1)), "use at least 2048"),
            (new("ES256", ecPriv, null, TimeSpan.FromMinutes(1)), "needs a P-256 key"),
            (new("RS256", ecPriv, null, TimeSpan.FromMinutes(1)), "holds no RSA key"),
            (new("HS256", shortSecret, null, TimeSpan.FromMinutes(1)), "use at least 32"),
            (new("RS256", keys.Combine("missing.key"), null, TimeSpan.FromMinutes(1)), "cannot read"),
        })
        {
            var refused = Assert.Throws<ArgumentException>(() => new JwtTokens(settings, clock).Dispose());
            Assert.Contains(message, refused.Message, StringComparison.Ordinal);
        }
    }
}

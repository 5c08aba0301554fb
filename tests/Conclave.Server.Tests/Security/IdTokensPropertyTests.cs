using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Conclave.Server.Security.Auth.Oidc;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// The ID token and JWKS parsers read untrusted bytes (from the provider, or from whoever stands between): a valid
/// token signed with RS256 or ES256 is accepted; every byte flip, truncation, re-encoding or random text is refused with
/// an <see cref="OidcException"/> and nothing else; a JWKS of garbage parses to an error or to no usable keys, never a crash.
/// </summary>
public sealed class IdTokensPropertyTests
{
    private const string Issuer = "https://idp.example";
    private const string Client = "conclave-console";
    private const string Nonce = "n-0123456789";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private static readonly OidcSettings Settings = new() { Issuer = Issuer, ClientId = Client, ClientSecret = "s" };

    private static (string Token, JsonWebKeys Keys) Make(string alg, Func<Dictionary<string, object>, Dictionary<string, object>>? change = null)
    {
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer, ["sub"] = "u-1", ["aud"] = Client, ["exp"] = Now.ToUnixTimeSeconds() + 300, ["iat"] = Now.ToUnixTimeSeconds(),
            ["nonce"] = Nonce, ["preferred_username"] = "carol", ["groups"] = new[] { "config-editors", "ops" },
        };
        claims = change?.Invoke(claims) ?? claims;
        var header = Base64Url.Encode(Encoding.UTF8.GetBytes($$"""{"alg":"{{alg}}","kid":"k1","typ":"JWT"}"""));
        var payload = Base64Url.Encode(JsonSerializer.SerializeToUtf8Bytes(claims, TestJson.Default.DictionaryStringObject));
        var input = Encoding.ASCII.GetBytes($"{header}.{payload}");
        string jwks;
        byte[] signature;
        if (alg == "ES256")
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var p = ec.ExportParameters(false);
            signature = ec.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            jwks = $$"""{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig","x":"{{Base64Url.Encode(p.Q.X)}}","y":"{{Base64Url.Encode(p.Q.Y)}}"}]}""";
        }
        else
        {
            using var rsa = RSA.Create(2048);
            var p = rsa.ExportParameters(false);
            signature = rsa.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            jwks = $$"""{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"{{Base64Url.Encode(p.Modulus)}}","e":"{{Base64Url.Encode(p.Exponent)}}"}]}""";
        }

        return ($"{header}.{payload}.{Base64Url.Encode(signature)}", JsonWebKeys.Parse(Encoding.UTF8.GetBytes(jwks)));
    }

    private static OidcIdentity Check(string token, JsonWebKeys keys) => IdTokens.Validate(token, keys, Issuer, Client, Nonce, Now, Settings);

    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    public void A_valid_token_is_accepted_and_every_mutation_refused(string alg)
    {
        var (token, keys) = Make(alg);
        var identity = Check(token, keys);
        Assert.Equal("carol", identity.Name);
        Assert.Equal(["config-editors", "ops"], identity.Groups);

        var random = new Random(alg.GetHashCode(StringComparison.Ordinal));
        for (var i = 0; i < 2000; i++)
        {
            var chars = token.ToCharArray();
            var mutated = (i % 4) switch
            {
                0 => Flip(chars, random),
                1 => token[..random.Next(token.Length)],
                2 => token.Insert(random.Next(token.Length), ((char)random.Next(32, 127)).ToString()),
                _ => token.Remove(random.Next(token.Length), 1),
            };
            if (mutated == token)
            {
                continue;
            }

            try
            {
                Check(mutated, keys);
                // A change that leaves the same bytes (base64url's unused low bits of the last character) is fine.
                Assert.True(SameBytes(mutated, token), $"mutation {i} was accepted: {mutated}");
            }
            catch (OidcException)
            {
                // refused, as it must be
            }
        }
    }

    [Fact]
    public void Random_text_and_random_jwks_are_refused_with_an_OidcException_only()
    {
        var (_, keys) = Make("RS256");
        var random = new Random(7);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.={}\":, ";
        for (var i = 0; i < 3000; i++)
        {
            var text = new string([.. Enumerable.Range(0, random.Next(0, 200)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            if (i % 3 == 0)
            {
                // Well-formed parts carrying random JSON-ish text.
                text = $"{Base64Url.Encode(Encoding.UTF8.GetBytes(text))}.{Base64Url.Encode(Encoding.UTF8.GetBytes(text[..(text.Length / 2)]))}.{Base64Url.Encode(RandomNumberGenerator.GetBytes(64))}";
            }

            Assert.Throws<OidcException>(() => Check(text, keys));
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            try
            {
                _ = JsonWebKeys.Parse(i % 2 == 0 ? bytes : Encoding.UTF8.GetBytes($$"""{"keys":[{"kty":"{{(i % 4 == 0 ? "RSA" : "EC")}}","crv":"P-256","n":"{{text}}","e":"AQAB","x":"{{text}}","y":"{{text}}"}]}"""));
            }
            catch (OidcException)
            {
                // refused
            }
        }
    }

    [Fact]
    public void Each_claim_is_checked()
    {
        void Refused(string reason, Func<Dictionary<string, object>, Dictionary<string, object>> change)
        {
            var (token, keys) = Make("RS256", change);
            var e = Assert.Throws<OidcException>(() => Check(token, keys));
            Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        }

        Refused("another client", c => { c["aud"] = "someone-else"; return c; });
        Refused("authorized party", c => { c["aud"] = new[] { Client, "other" }; return c; });
        Refused("configured issuer", c => { c["iss"] = "https://evil.example"; return c; });
        Refused("has expired", c => { c["exp"] = Now.ToUnixTimeSeconds() - 61; return c; });
        Refused("no expiry", c => { c.Remove("exp"); return c; });
        Refused("in the future", c => { c["iat"] = Now.ToUnixTimeSeconds() + 3600; return c; });
        Refused("nonce", c => { c["nonce"] = "other"; return c; });
        Refused("nonce", c => { c.Remove("nonce"); return c; });
        Refused("no subject", c => { c.Remove("sub"); return c; });

        // Several audiences with this client as the authorized party pass; no preferred_username falls back to sub.
        var (ok, keys) = Make("RS256", c => { c["aud"] = new[] { Client, "other" }; c["azp"] = Client; c.Remove("preferred_username"); return c; });
        Assert.Equal("u-1", Check(ok, keys).Name);

        // A key from another JWKS does not verify.
        var (token, _) = Make("ES256");
        var (_, otherKeys) = Make("ES256");
        Assert.Contains("signature is not valid", Assert.Throws<OidcException>(() => Check(token, otherKeys)).Message, StringComparison.Ordinal);
    }

    private static string Flip(char[] chars, Random random)
    {
        var at = random.Next(chars.Length);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        chars[at] = alphabet[random.Next(alphabet.Length)];
        return new string(chars);
    }

    private static bool SameBytes(string a, string b)
    {
        var pa = a.Split('.');
        var pb = b.Split('.');
        return pa.Length == 3 && pb.Length == 3 && Enumerable.Range(0, 3).All(i => Base64Url.Decode(pa[i]) is { } x && Base64Url.Decode(pb[i]) is { } y && x.AsSpan().SequenceEqual(y));
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(long))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;

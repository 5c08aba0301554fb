using System.Security.Cryptography;

namespace Conclave.ConfigCenter.Tests;

/// <summary>The access key's text comes from any caller: parsing is total (never throws) and exact.</summary>
public sealed class AccessKeyTests
{
    [Fact]
    public void A_generated_key_round_trips_and_its_hash_matches_only_its_own_secret()
    {
        var (id, secret) = AccessKey.Generate();
        var text = AccessKey.Format(id, secret);
        Assert.Equal(AccessKey.MaxLength, text.Length);
        Assert.True(AccessKey.TryParse(text, out var parsedId, out var parsedSecret));
        Assert.Equal(id, parsedId);
        Assert.Equal(secret, parsedSecret);

        var hash = AccessKey.Hash(secret);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(secret)), hash);
        Assert.True(AccessKey.Matches(secret, hash));
        var other = (byte[])secret.Clone();
        other[^1] ^= 1;
        Assert.False(AccessKey.Matches(other, hash));

        // A stored hash that is not 64 hex digits never matches (and never throws).
        Assert.False(AccessKey.Matches(secret, hash[..^2]));
        Assert.False(AccessKey.Matches(secret, "zz" + hash[2..]));
        Assert.False(AccessKey.Matches(secret, ""));
    }

    [Fact]
    public void Random_and_mutated_text_never_throws_and_a_changed_key_never_parses_to_the_same_key()
    {
        var random = new Random(21);
        var (id, secret) = AccessKey.Generate();
        var valid = AccessKey.Format(id, secret);
        const string alphabet = "ABCxyz019-_.+/= \t\u00e9\u0000\uffff";
        for (var i = 0; i < 20_000; i++)
        {
            string text;
            switch (i % 4)
            {
                case 0:
                    text = new string(Enumerable.Range(0, random.Next(0, 80)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
                    break;
                case 1:
                    var chars = valid.ToCharArray();
                    chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
                    text = new string(chars);
                    break;
                case 2:
                    text = valid.Remove(random.Next(valid.Length), 1);
                    break;
                default:
                    text = valid.Insert(random.Next(valid.Length + 1), alphabet[random.Next(alphabet.Length)].ToString());
                    break;
            }

            var ok = AccessKey.TryParse(text, out var parsedId, out var parsedSecret);
            if (text == valid)
            {
                Assert.True(ok);
                continue;
            }

            // Base64url's last character carries 4 unused bits: a different text may decode to the same bytes only there.
            if (ok)
            {
                Assert.Equal(AccessKey.MaxLength, text.Length);
                Assert.False(parsedId == id && parsedSecret.AsSpan().SequenceEqual(secret) && text[..^1] != valid[..^1], $"'{text}' parsed as the valid key");
            }
        }

        Assert.False(AccessKey.TryParse(null, out _, out _));
        Assert.False(AccessKey.TryParse(new string('a', 100_000), out _, out _));
    }

    [Theory]
    [InlineData("ConclaveKey abc.def", "abc.def")]
    [InlineData("conclavekey   abc.def ", "abc.def")]
    [InlineData("Bearer abc.def", null)]
    [InlineData("ConclaveKey", null)]
    [InlineData(null, null)]
    public void The_authorization_scheme_carries_the_key(string? header, string? key) => Assert.Equal(key, AccessKey.FromAuthorization(header));
}

namespace Conclave.Server.Tests.Security;

/// <summary>Hostile variants of a token for the token parsers' property tests: one character changed, removed or
/// inserted, random garbage up to <c>maxGarbage</c> characters, or a prefix; never the token itself.</summary>
internal static class TokenMutations
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u00e9\0";

    public static IEnumerable<string> Of(string token, int seed, int count, int maxGarbage)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var chars = token.ToCharArray().ToList();
            switch (random.Next(5))
            {
                case 0:
                    chars[random.Next(chars.Count)] = Alphabet[random.Next(Alphabet.Length)];
                    break;
                case 1:
                    chars.RemoveRange(random.Next(chars.Count), 1);
                    break;
                case 2:
                    chars.Insert(random.Next(chars.Count), Alphabet[random.Next(Alphabet.Length)]);
                    break;
                case 3:
                    chars = [.. Enumerable.Range(0, random.Next(0, maxGarbage)).Select(_ => Alphabet[random.Next(Alphabet.Length)])];
                    break;
                default:
                    chars = [.. chars.Take(random.Next(chars.Count))];
                    break;
            }

            var mutated = new string([.. chars]);
            if (mutated != token)
            {
                yield return mutated;
            }
        }
    }
}

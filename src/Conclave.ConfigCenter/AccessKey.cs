using System.Buffers.Text;
using System.Security.Cryptography;

namespace Conclave.ConfigCenter;

/// <summary>
/// The text of an app credential, <c>{id}.{secret}</c> (ADR 0015 decision 5): a 12-character id and a 256-bit random
/// secret, both base64url without padding. Clients send it as <c>conclave-access-key</c> (gRPC metadata or HTTP
/// header) or <c>Authorization: ConclaveKey {id}.{secret}</c>. The text comes from untrusted callers, so parsing is
/// bounded and never throws.
/// </summary>
public static class AccessKey
{
    /// <summary>The gRPC metadata entry / HTTP header that carries the key.</summary>
    public const string Header = "conclave-access-key";

    /// <summary>The <c>Authorization</c> scheme that may carry it instead.</summary>
    public const string Scheme = "ConclaveKey";

    public const int IdLength = 12;

    public const int SecretBytes = 32;

    /// <summary>Base64url characters of <see cref="SecretBytes"/> bytes without padding.</summary>
    public const int SecretLength = 43;

    /// <summary>The longest text <see cref="TryParse"/> looks at.</summary>
    public const int MaxLength = IdLength + 1 + SecretLength;

    /// <summary>A new id and secret from the system's cryptographic random number generator.</summary>
    public static (string Id, byte[] Secret) Generate()
    {
        var secret = RandomNumberGenerator.GetBytes(SecretBytes);
        return (Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(IdLength * 3 / 4)), secret);
    }

    public static string Format(string id, byte[] secret) => $"{id}.{Base64Url.EncodeToString(secret)}";

    /// <summary>Splits <c>{id}.{secret}</c>; false for anything else (wrong length, alphabet or shape).</summary>
    public static bool TryParse(string? text, out string id, out byte[] secret)
    {
        id = "";
        secret = [];
        if (text is null || text.Length != MaxLength || text[IdLength] != '.')
        {
            return false;
        }

        var idPart = text.AsSpan(0, IdLength);
        var secretPart = text.AsSpan(IdLength + 1);
        foreach (var c in idPart)
        {
            if (!IsUrlSafe(c))
            {
                return false;
            }
        }

        foreach (var c in secretPart)
        {
            if (!IsUrlSafe(c))
            {
                return false;
            }
        }

        var bytes = new byte[SecretBytes];
        if (Base64Url.DecodeFromChars(secretPart, bytes, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != SecretLength || written != SecretBytes)
        {
            return false;
        }

        id = idPart.ToString();
        secret = bytes;
        return true;
    }

    /// <summary>SHA-256 of the secret, lower-case hex: what the record stores.</summary>
    public static string Hash(byte[] secret) => Convert.ToHexStringLower(SHA256.HashData(secret));

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="storedHash"/>, in time independent of where they differ.</summary>
    public static bool Matches(byte[] secret, string storedHash)
    {
        Span<byte> stored = stackalloc byte[SHA256.HashSizeInBytes];
        if (storedHash.Length != SHA256.HashSizeInBytes * 2 || Convert.FromHexString(storedHash, stored, out _, out var written) != System.Buffers.OperationStatus.Done || written != stored.Length)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(secret), stored);
    }

    /// <summary>The key carried by an <c>Authorization</c> value (<c>ConclaveKey {key}</c>), or null.</summary>
    public static string? FromAuthorization(string? value) =>
        value is not null && value.Length > Scheme.Length + 1 && value.StartsWith(Scheme + " ", StringComparison.OrdinalIgnoreCase)
            ? value[(Scheme.Length + 1)..].Trim()
            : null;

    private static bool IsUrlSafe(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
}

using System.Security.Cryptography;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// Master keys held by the member itself (<c>--config-master-key-file</c> or <c>CONCLAVE_MASTER_KEY</c>): 32-byte keys,
/// the first current, the others kept only to unwrap what was wrapped before a rotation. A wrapped data key is
/// <c>nonce(12) | ciphertext(32) | tag(16)</c> of AES-256-GCM. A key's id is the first 8 bytes of its SHA-256, in hex.
/// </summary>
public sealed class LocalMasterKeys : IMasterKeyProvider
{
    public const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly List<(string Id, byte[] Key)> keys = [];

    public LocalMasterKeys(IEnumerable<byte[]> masterKeys)
    {
        foreach (var key in masterKeys)
        {
            if (key.Length != KeyBytes)
            {
                throw new ArgumentException($"a master key must be {KeyBytes} bytes; one is {key.Length} bytes");
            }

            var id = IdOf(key);
            if (keys.All(k => k.Id != id))
            {
                keys.Add((id, key.ToArray()));
            }
        }

        if (keys.Count == 0)
        {
            throw new ArgumentException("no master key given");
        }
    }

    public string CurrentKeyId => keys[0].Id;

    public IReadOnlyList<string> KeyIds => keys.Select(k => k.Id).ToList();

    /// <summary>The id of <paramref name="key"/>: the first 8 bytes of its SHA-256, lower-case hex. Tells keys apart without revealing them.</summary>
    public static string IdOf(ReadOnlySpan<byte> key) => Convert.ToHexStringLower(SHA256.HashData(key)[..8]);

    /// <summary>
    /// Reads one key as written in a key file or the environment: base64 of 32 bytes (surrounding whitespace ignored).
    /// <paramref name="source"/> names where it came from in the error.
    /// </summary>
    public static byte[] ParseKey(string text, string source)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{source}: the master key is not base64 (make one with: head -c 32 /dev/urandom | base64)");
        }

        return key.Length == KeyBytes
            ? key
            : throw new ArgumentException($"{source}: the master key is {key.Length} bytes; it must be {KeyBytes} random bytes, base64-encoded (head -c 32 /dev/urandom | base64)");
    }

    public ValueTask<byte[]> WrapAsync(ReadOnlyMemory<byte> dataKey, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default)
    {
        var output = new byte[NonceBytes + dataKey.Length + TagBytes];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys[0].Key, TagBytes);
        aes.Encrypt(nonce, dataKey.Span, output.AsSpan(NonceBytes, dataKey.Length), output.AsSpan(NonceBytes + dataKey.Length), associatedData.Span);
        return ValueTask.FromResult(output);
    }

    public ValueTask<byte[]> UnwrapAsync(string keyId, ReadOnlyMemory<byte> wrapped, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default)
    {
        var key = keys.FirstOrDefault(k => k.Id == keyId).Key
            ?? throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable,
                $"this member does not have master key {keyId} (it has {string.Join(", ", KeyIds)}): start it with that key as well (--config-master-key-file NEW,OLD), or rotate on a member that has it");
        if (wrapped.Length < NonceBytes + TagBytes + 1)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"a wrapped data key is {wrapped.Length} bytes: too short to be one");
        }

        var span = wrapped.Span;
        var plain = new byte[span.Length - NonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(span[..NonceBytes], span[NonceBytes..^TagBytes], span[^TagBytes..], plain, associatedData.Span);
        }
        catch (CryptographicException)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable,
                $"a data key does not open under master key {keyId}: it was altered, or copied from another namespace");
        }

        return ValueTask.FromResult(plain);
    }
}

using System.Security.Cryptography;
using System.Text;
using Conclave.Api.Etcd;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// One namespace's data keys, unwrapped: seals values under the current version and opens values of any version. The
/// associated data of every value is the item's identity <c>{app}/{env}/{ns}/{key}</c> (the key is empty for a whole
/// document), so a ciphertext copied to another item, namespace or app does not open.
/// </summary>
public sealed record NamespaceDataKey
{
    private readonly IReadOnlyDictionary<int, byte[]> keys;

    internal NamespaceDataKey(string app, string env, string ns, IReadOnlyDictionary<int, byte[]> keys, int current)
    {
        App = app;
        Env = env;
        Namespace = ns;
        this.keys = keys;
        CurrentVersion = current;
    }

    public string App { get; }

    public string Env { get; }

    public string Namespace { get; }

    public int CurrentVersion { get; }

    /// <summary>For an edit: the compare that keeps the key record as read (present, or absent when <see cref="Create"/> is set).</summary>
    internal Compare? Guard { get; init; }

    /// <summary>For an edit that seals the namespace's first secret: the write that stores the new data key in the same transaction.</summary>
    internal RequestOp? Create { get; init; }

    internal bool Holds(int version) => keys.ContainsKey(version);

    /// <summary>Seals <paramref name="plaintext"/> as the value of item <paramref name="itemKey"/> (empty for a whole document).</summary>
    public string Seal(string itemKey, string plaintext)
    {
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var payload = new byte[SealedValue.NonceBytes + plain.Length + SealedValue.TagBytes];
        var nonce = payload.AsSpan(0, SealedValue.NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys[CurrentVersion], SealedValue.TagBytes);
        aes.Encrypt(nonce, plain, payload.AsSpan(SealedValue.NonceBytes, plain.Length), payload.AsSpan(SealedValue.NonceBytes + plain.Length), AssociatedData(itemKey));
        return new SealedValue(CurrentVersion, payload).ToString();
    }

    /// <summary>Opens the sealed value of item <paramref name="itemKey"/>; a clear <see cref="ConfigErrorKind.SecretUnavailable"/> refusal otherwise.</summary>
    public string Open(string itemKey, string sealedText)
    {
        if (!SealedValue.TryParse(sealedText, out var value, out var error))
        {
            throw Unavailable(itemKey, $"is malformed: {error}");
        }

        if (!keys.TryGetValue(value.DataKeyVersion, out var key))
        {
            throw Unavailable(itemKey, $"names data key version {value.DataKeyVersion}, which {App}/{Env}/{Namespace} does not have");
        }

        var payload = value.Payload;
        var plain = new byte[payload.Length - SealedValue.NonceBytes - SealedValue.TagBytes];
        try
        {
            using var aes = new AesGcm(key, SealedValue.TagBytes);
            aes.Decrypt(payload.AsSpan(0, SealedValue.NonceBytes), payload.AsSpan(SealedValue.NonceBytes, plain.Length), payload.AsSpan(payload.Length - SealedValue.TagBytes), plain, AssociatedData(itemKey));
        }
        catch (CryptographicException)
        {
            throw Unavailable(itemKey, "does not open: it was altered, or sealed for another item");
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(plain);
        }
        catch (DecoderFallbackException)
        {
            throw Unavailable(itemKey, "opens to bytes that are not UTF-8");
        }
    }

    /// <summary>The associated data of item <paramref name="itemKey"/> of <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/>.</summary>
    public static byte[] AssociatedData(string app, string env, string ns, string itemKey) => Encoding.UTF8.GetBytes($"{app}/{env}/{ns}/{itemKey}");

    private byte[] AssociatedData(string itemKey) => AssociatedData(App, Env, Namespace, itemKey);

    private ConfigCenterException Unavailable(string itemKey, string what) =>
        new(ConfigErrorKind.SecretUnavailable, $"the sealed {(itemKey.Length == 0 ? "document" : $"value of '{itemKey}'")} of {App}/{Env}/{Namespace} {what}");
}

using System.Buffers.Text;
using System.Globalization;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// A secret as stored: <c>sealed:v1:{dataKeyVersion}:{base64url(nonce | ciphertext | tag)}</c>, AES-256-GCM under the
/// namespace's data key of that version with the item's identity as associated data. The text is what the log,
/// snapshots, releases and exports hold. <see cref="TryParse"/> reads untrusted text (stored records, import files)
/// with bounds on every part and never throws.
/// </summary>
public readonly record struct SealedValue(int DataKeyVersion, byte[] Payload)
{
    public const string Prefix = "sealed:v1:";
    public const int NonceBytes = 12;
    public const int TagBytes = 16;

    /// <summary>Largest payload accepted (a value or document of the center's largest size, sealed, with room to spare).</summary>
    public const int MaxPayloadBytes = 1024 * 1024;

    private const int MaxVersionDigits = 9;

    public override string ToString() => $"{Prefix}{DataKeyVersion.ToString(CultureInfo.InvariantCulture)}:{Base64Url.EncodeToString(Payload)}";

    /// <summary>Reads <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong with it.</summary>
    public static bool TryParse(string? text, out SealedValue value, out string error)
    {
        value = default;
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"it does not start with '{Prefix}'";
            return false;
        }

        var rest = text.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon <= 0 || colon > MaxVersionDigits)
        {
            error = "the data key version is missing or longer than 9 digits";
            return false;
        }

        var digits = rest[..colon];
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                error = "the data key version is not a decimal number";
                return false;
            }
        }

        var version = int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        if (version < 1 || (digits.Length > 1 && digits[0] == '0'))
        {
            error = "the data key version must be a positive number without leading zeros";
            return false;
        }

        var body = rest[(colon + 1)..];
        if (body.Length > Base64Url.GetEncodedLength(MaxPayloadBytes))
        {
            error = $"the payload is over {MaxPayloadBytes} bytes";
            return false;
        }

        foreach (var c in body)
        {
            if (!(c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_'))
            {
                error = "the payload is not unpadded base64url";
                return false;
            }
        }

        var payload = new byte[Base64Url.GetMaxDecodedLength(body.Length)];
        // The OperationStatus form: TryDecodeFromChars throws on some invalid lengths (found by the property test).
        if (Base64Url.DecodeFromChars(body, payload, out var consumed, out var written) != System.Buffers.OperationStatus.Done || consumed != body.Length)
        {
            error = "the payload is not unpadded base64url";
            return false;
        }

        // One text per payload: unused trailing bits must be zero, so an altered text never opens as the original.
        if (!body.SequenceEqual(Base64Url.EncodeToString(payload.AsSpan(0, written))))
        {
            error = "the payload is not canonical base64url";
            return false;
        }

        if (written < NonceBytes + TagBytes)
        {
            error = $"the payload is {written} bytes, shorter than a nonce and a tag";
            return false;
        }

        value = new SealedValue(version, payload.AsSpan(0, written).ToArray());
        error = "";
        return true;
    }
}

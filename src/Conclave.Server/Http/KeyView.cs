using System.Text;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Server.Http;

/// <summary>
/// A key-value pair as the console shows it: key and value as text when they are UTF-8, otherwise base64 with
/// <see cref="Binary"/> set. Lease ids are hex strings (as etcdctl prints them; JavaScript numbers cannot hold 64 bits).
/// </summary>
public sealed record KeyView(string Key, string Value, bool Binary, long CreateRevision, long ModRevision, long Version, string? Lease, int Size)
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public static KeyView Of(KeyValue kv) =>
        new(Text(kv.Key, out _), Text(kv.Value, out var binary), binary, kv.CreateRevision, kv.ModRevision, kv.Version, LeaseId(kv.Lease), kv.Value.Length);

    public static string? LeaseId(long lease) => lease == 0 ? null : lease.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>UTF-8 text, or base64 when the bytes are not valid UTF-8.</summary>
    public static string Text(ByteString bytes, out bool binary)
    {
        try
        {
            binary = false;
            return Strict.GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            binary = true;
            return bytes.ToBase64();
        }
    }
}

using System.Globalization;
using Conclave.Api.Errors;
using Google.Protobuf;

namespace Conclave.Server.Concurrency;

/// <summary>
/// The keys of etcd's lock and election recipes: a waiter's or candidate's key is <c>name/leaseID</c> (lease id in
/// lower-case hex) and carries that lease. A request that names an existing key (Unlock, Proclaim, Resign) may only
/// touch a key of that shape held by that lease, so these calls cannot be aimed at arbitrary keys.
/// </summary>
internal static class RecipeKeys
{
    /// <summary>The queue prefix of <paramref name="name"/>: <c>name/</c>.</summary>
    public static ByteString Prefix(ByteString name) => ByteString.CopyFrom([.. name.Span, (byte)'/']);

    /// <summary>The key of <paramref name="lease"/>'s place in <paramref name="name"/>'s queue.</summary>
    public static ByteString Key(ByteString name, long lease) =>
        ByteString.CopyFrom([.. name.Span, (byte)'/', .. System.Text.Encoding.ASCII.GetBytes(lease.ToString("x", CultureInfo.InvariantCulture))]);

    /// <summary>The lease a recipe key names in its last segment, or null when the key does not have the recipe's shape.</summary>
    public static long? LeaseOf(ByteString key)
    {
        var span = key.Span;
        var slash = span.LastIndexOf((byte)'/');
        var hex = span[(slash + 1)..];
        if (slash < 0 || hex.IsEmpty || hex.Length > 16)
        {
            return null;
        }

        // Only the form the recipe writes (lower-case hex, no leading zeros), so one lease has exactly one key per name.
        if (hex[0] == (byte)'0' || hex.IndexOfAnyExcept("0123456789abcdef"u8) >= 0)
        {
            return null;
        }

        return long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var lease) && lease > 0 ? lease : null;
    }

    /// <summary>
    /// Checks that <paramref name="key"/> is <paramref name="name"/>'s recipe key of <paramref name="lease"/> (any name
    /// when <paramref name="name"/> is empty, as etcd's clients may omit it).
    /// </summary>
    public static void CheckHeldShape(string operation, ByteString name, ByteString key, long lease)
    {
        if (lease <= 0 || LeaseOf(key) != lease || (!name.IsEmpty && key != Key(name, lease)))
        {
            throw new ConclaveErrorException(
                ErrorCode.InvalidArgument,
                $"{operation}: '{key.ToStringUtf8()}' is not the key of lease {lease:x} in election '{name.ToStringUtf8()}' (name/<lease id in hex>)");
        }
    }
}

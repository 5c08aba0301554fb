using System.Text;
using Google.Protobuf;

namespace Conclave.Bench;

/// <summary>Preallocated keys and values, so the request loops allocate no key or value bytes.</summary>
internal static class BenchKeys
{
    public const int MaxKeySpace = 1_000_000;

    /// <summary>Key <c>i</c> is its zero-padded decimal index, exactly <paramref name="keySize"/> bytes (after <paramref name="prefix"/>).</summary>
    public static ByteString[] Create(string prefix, long keySpace, int keySize)
    {
        var keys = new ByteString[keySpace];
        var prefixBytes = Encoding.UTF8.GetBytes(prefix);
        for (var i = 0; i < keys.Length; i++)
        {
            var bytes = new byte[prefixBytes.Length + keySize];
            prefixBytes.CopyTo(bytes, 0);
            var n = (long)i;
            for (var p = bytes.Length - 1; p >= prefixBytes.Length; p--)
            {
                bytes[p] = (byte)('0' + (n % 10));
                n /= 10;
            }

            keys[i] = UnsafeByteOperations.UnsafeWrap(bytes);
        }

        return keys;
    }

    public static ByteString Value(int size)
    {
        var bytes = new byte[size];
        Random.Shared.NextBytes(bytes);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }
}

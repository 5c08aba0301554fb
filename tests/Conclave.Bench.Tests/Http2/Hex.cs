namespace Conclave.Bench.Tests.Http2;

internal static class Hex
{
    /// <summary>Bytes from hex digits; spaces are ignored, so RFC dumps can be pasted as they are.</summary>
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
}

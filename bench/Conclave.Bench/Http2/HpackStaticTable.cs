using System.Text;

namespace Conclave.Bench.Http2;

/// <summary>The HPACK static table (RFC 7541 Appendix A), indexes 1 to 61.</summary>
internal static class HpackStaticTable
{
    public const int Count = 61;

    private static readonly (byte[] Name, byte[] Value)[] Entries = Build(
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]);

    // Indexes the request encoder refers to.
    public const int Authority = 1;
    public const int MethodPost = 3;
    public const int Path = 4;
    public const int SchemeHttp = 6;
    public const int ContentType = 31;

    /// <param name="index">1 to <see cref="Count"/>.</param>
    public static ReadOnlySpan<byte> Name(int index) => Entries[index - 1].Name;

    /// <param name="index">1 to <see cref="Count"/>.</param>
    public static ReadOnlySpan<byte> Value(int index) => Entries[index - 1].Value;

    private static (byte[], byte[])[] Build((string Name, string Value)[] entries) =>
        [.. entries.Select(static e => (Encoding.ASCII.GetBytes(e.Name), Encoding.ASCII.GetBytes(e.Value)))];
}

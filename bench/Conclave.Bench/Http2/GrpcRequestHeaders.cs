using System.Globalization;
using System.Text;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// Encodes the header block of a gRPC request. Only static-table references and literals without indexing are
/// used, so the block needs no encoder state and is computed once per method and reused for every call.
/// </summary>
internal static class GrpcRequestHeaders
{
    /// <summary>:scheme https in the static table (RFC 7541 Appendix A); the shared table names only what the server needs.</summary>
    private const int SchemeHttps = 7;

    /// <summary>
    /// The fixed block: POST, http (https over TLS), <paramref name="path"/>, <paramref name="authority"/>,
    /// application/grpc, te: trailers, and <c>token</c> when the connection authenticated (etcd's auth metadata).
    /// </summary>
    public static byte[] Build(string path, string authority, bool https = false, string? token = null)
    {
        var block = new List<byte>(64 + path.Length + authority.Length + (token?.Length ?? 0))
        {
            (byte)(0x80 | HpackStaticTable.MethodPost),
            (byte)(0x80 | (https ? SchemeHttps : HpackStaticTable.SchemeHttp)),
        };
        AppendLiteral(block, HpackStaticTable.Path, null, path);
        AppendLiteral(block, HpackStaticTable.Authority, null, authority);
        AppendLiteral(block, HpackStaticTable.ContentType, null, "application/grpc");
        AppendLiteral(block, 0, "te", "trailers");
        if (token is not null)
        {
            AppendLiteral(block, 0, "token", token);
        }

        return [.. block];
    }

    /// <summary>
    /// <paramref name="fixedBlock"/> plus a grpc-timeout and the caller's metadata; only for calls that carry them.
    /// </summary>
    public static byte[] WithExtras(byte[] fixedBlock, TimeSpan? timeout, Metadata? metadata)
    {
        var block = new List<byte>(fixedBlock);
        if (timeout is { } t)
        {
            // Milliseconds, at most 8 digits (gRPC over HTTP/2, "Timeout").
            var ms = (long)Math.Clamp(Math.Ceiling(t.TotalMilliseconds), 1, 99_999_999);
            AppendLiteral(block, 0, "grpc-timeout", ms.ToString(CultureInfo.InvariantCulture) + "m");
        }

        if (metadata is not null)
        {
            foreach (var entry in metadata)
            {
                var value = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;
                AppendLiteral(block, 0, entry.Key, value);
            }
        }

        return [.. block];
    }

    /// <summary>Literal header field without indexing, name by static index or literal, no Huffman (<see cref="HpackEncoder"/>).</summary>
    internal static void AppendLiteral(List<byte> block, int nameIndex, string? name, string value) =>
        HpackEncoder.AppendLiteral(block, nameIndex, Encoding.ASCII.GetBytes(name ?? string.Empty), Encoding.ASCII.GetBytes(value));
}

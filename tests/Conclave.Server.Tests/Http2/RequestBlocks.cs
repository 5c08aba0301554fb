using System.Text;
using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>Header blocks of gRPC requests as a client encodes them, and the oversized ones attacks are made of.</summary>
internal static class RequestBlocks
{
    /// <summary>Index of the first dynamic table entry (RFC 7541 §2.3.3).</summary>
    public const int FirstDynamicIndex = HpackStaticTable.Count + 1;

    /// <summary>A unary gRPC request's header block, every field a literal without indexing or a static index.</summary>
    public static List<byte> Request(string authority, string path = "/etcdserverpb.KV/Range")
    {
        var block = new List<byte>();
        HpackEncoder.AppendInteger(block, 0x80, 7, HpackStaticTable.MethodPost);
        HpackEncoder.AppendInteger(block, 0x80, 7, HpackStaticTable.SchemeHttp);
        HpackEncoder.AppendLiteral(block, HpackStaticTable.Path, [], Encoding.ASCII.GetBytes(path));
        HpackEncoder.AppendLiteral(block, HpackStaticTable.Authority, [], Encoding.ASCII.GetBytes(authority));
        HpackEncoder.AppendLiteral(block, HpackStaticTable.ContentType, [], "application/grpc"u8);
        HpackEncoder.AppendLiteral(block, 0, "te"u8, "trailers"u8);
        return block;
    }

    /// <summary>
    /// The decompression bomb: a request that puts one field of nearly the dynamic table's size (4,096 bytes) into
    /// the table, then refers to it with one-byte indexed fields until the block is <paramref name="size"/> bytes:
    /// every byte of the block decodes to 4 KB.
    /// </summary>
    public static byte[] Bomb(string authority, int size)
    {
        var block = Request(authority);
        block.Add(0x40); // literal with incremental indexing, literal name
        HpackEncoder.AppendString(block, "x"u8);
        HpackEncoder.AppendString(block, Encoding.ASCII.GetBytes(new string('b', 4000)));
        while (block.Count < size)
        {
            HpackEncoder.AppendInteger(block, 0x80, 7, FirstDynamicIndex);
        }

        return [.. block];
    }

    /// <summary>A request padded with 1,000-byte literal fields (no table entries) to about <paramref name="size"/> encoded bytes.</summary>
    public static byte[] Padded(string authority, int size)
    {
        var block = Request(authority);
        var value = Encoding.ASCII.GetBytes(new string('p', 1000));
        for (var i = 0; block.Count < size; i++)
        {
            HpackEncoder.AppendLiteral(block, 0, Encoding.ASCII.GetBytes($"x-pad-{i}"), value);
        }

        return [.. block];
    }
}

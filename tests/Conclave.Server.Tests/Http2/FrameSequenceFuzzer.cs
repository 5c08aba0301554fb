using System.Text;
using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Inputs for the pre-parser's fuzz test: what clients really send on a gRPC connection (etcdctl with a URL
/// :authority, a well-behaved client, padded and CONTINUATION-split blocks, Huffman strings, the decompression
/// bomb), and mutations of it: frames with other lengths, types, flags and stream ids, dropped, repeated and
/// truncated frames, payloads overwritten with HPACK's most expensive codes, flipped, inserted and deleted bytes.
/// </summary>
internal static class FrameSequenceFuzzer
{
    private static readonly byte[][] Poisons =
    [
        [0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe, 0xbe], // indexed references to the first dynamic entry
        [0x3f, 0xe1, 0x1f],                               // table size update to 4096
        [0xff, 0xff, 0xff, 0xff, 0x0f],                   // an integer that overflows
        [0x7f, 0xff, 0xff, 0x03],                         // a string length of 65 KB
        [0x40, 0x00, 0x00],                               // literal with an empty name
        [0x00, 0x81, 0xff],                               // Huffman string with invalid padding
    ];

    public static IReadOnlyList<(string Name, List<Frame> Frames)> Seeds(Random random)
    {
        var url = "http://127.0.0.1:2379";
        var host = "127.0.0.1:2379";
        return
        [
            ("etcdctl with a URL authority", Connection(Indexing(url, huffman: false))),
            ("huffman, URL authority", Connection(Indexing(url, huffman: true))),
            ("well-behaved client", Connection(Indexing(host, huffman: true))),
            ("bomb first", [.. Opening(), .. Split(1, RequestBlocks.Bomb(host, 40_000), 16384)]),
            ("bomb after a URL authority", [.. Connection(Indexing(url, huffman: false)), .. Split(5, RequestBlocks.Bomb(url, 90_000), 16384)]),
            ("padded with priority", [.. Opening(), Padded(1, [.. RequestBlocks.Request(url)], random)]),
            ("large literals", [.. Opening(), .. Split(1, RequestBlocks.Padded(url, 20_000), 4096)]),
        ];
    }

    /// <summary>Applies one to four mutations; the result may be anything from valid to garbage.</summary>
    public static byte[] Mutate(List<Frame> seed, Random random)
    {
        var frames = seed.Select(f => f with { Payload = [.. f.Payload] }).ToList();
        for (var n = random.Next(1, 5); n > 0 && frames.Count > 0; n--)
        {
            var i = random.Next(frames.Count);
            var f = frames[i];
            switch (random.Next(8))
            {
                case 0: frames[i] = f with { Type = (FrameType)random.Next(12) }; break;
                case 1: frames[i] = f with { Flags = (byte)random.Next(256) }; break;
                case 2: frames[i] = f with { StreamId = random.Next(4) == 0 ? random.Next() : random.Next(8) }; break;
                case 3: frames[i] = f with { LengthOverride = random.Next(3) == 0 ? random.Next(1 << 24) : Math.Max(0, f.Payload.Length + random.Next(-16, 17)) }; break;
                case 4: frames.RemoveAt(i); break;
                case 5: frames.Insert(i, f with { Payload = [.. f.Payload] }); break;
                case 6 when f.Payload.Length > 0:
                    var poison = Poisons[random.Next(Poisons.Length)];
                    var at = random.Next(f.Payload.Length);
                    for (var k = 0; k < poison.Length && at + k < f.Payload.Length; k++)
                    {
                        f.Payload[at + k] = poison[k];
                    }

                    break;
                default:
                    frames[i] = f with { Payload = [.. f.Payload.Take(random.Next(f.Payload.Length + 1))] };
                    break;
            }
        }

        var bytes = Serialize(frames);
        switch (random.Next(5))
        {
            case 0: // flip bytes after the preface
                for (var n = random.Next(1, 9); n > 0 && bytes.Count > 24; n--)
                {
                    bytes[random.Next(24, bytes.Count)] ^= (byte)random.Next(1, 256);
                }

                break;
            case 1: // insert random bytes
                var insert = new byte[random.Next(1, 32)];
                random.NextBytes(insert);
                bytes.InsertRange(random.Next(24, bytes.Count + 1), insert);
                break;
            case 2 when bytes.Count > 24: // delete a range
                var from = random.Next(24, bytes.Count);
                bytes.RemoveRange(from, Math.Min(random.Next(1, 64), bytes.Count - from));
                break;
            case 3: // truncate
                var keep = random.Next(24, bytes.Count + 1);
                bytes.RemoveRange(keep, bytes.Count - keep);
                break;
        }

        return [.. bytes];
    }

    public static List<byte> Serialize(IEnumerable<Frame> frames)
    {
        var bytes = new List<byte>(FrameWriter.Preface.ToArray());
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        foreach (var f in frames)
        {
            FrameHeader.Write(header, f.LengthOverride ?? f.Payload.Length, f.Type, f.Flags, f.StreamId);
            bytes.AddRange(header);
            bytes.AddRange(f.Payload);
        }

        return bytes;
    }

    /// <summary>A request whose fields all enter the dynamic table, so later requests can refer to them.</summary>
    private static byte[] Indexing(string authority, bool huffman) => new TestHpackEncoder()
        .Incremental(HpackStaticTable.Authority, null, authority, huffman)
        .Indexed(HpackStaticTable.MethodPost)
        .Indexed(HpackStaticTable.SchemeHttp)
        .Incremental(HpackStaticTable.Path, null, "/etcdserverpb.Maintenance/Status", huffman)
        .Incremental(HpackStaticTable.ContentType, null, "application/grpc", huffman)
        .Incremental(0, "te", "trailers", huffman)
        .ToArray();

    /// <summary>
    /// Preface frames, the first request with <paramref name="first"/>, its DATA, then a second request by table
    /// references split over a padded HEADERS and a CONTINUATION, with a WINDOW_UPDATE and a PING between requests.
    /// </summary>
    private static List<Frame> Connection(byte[] first)
    {
        var second = new TestHpackEncoder().Indexed(65).Indexed(HpackStaticTable.MethodPost).Indexed(HpackStaticTable.SchemeHttp).Indexed(64).Indexed(63).Indexed(62).ToArray();
        var frames = Opening();
        frames.Add(new Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, first));
        frames.Add(new Frame(FrameType.Data, FrameFlags.EndStream, 1, [0, 0, 0, 0, 0]));
        frames.Add(new Frame(FrameType.WindowUpdate, 0, 0, [0, 0, 0x10, 0]));
        frames.Add(new Frame(FrameType.Headers, FrameFlags.Padded, 3, [2, .. second[..2], 0, 0]));
        frames.Add(new Frame(FrameType.Continuation, FrameFlags.EndHeaders, 3, second[2..]));
        frames.Add(new Frame(FrameType.Ping, 0, 0, new byte[8]));
        frames.Add(new Frame(FrameType.Data, FrameFlags.EndStream, 3, [0, 0, 0, 0, 0]));
        return frames;
    }

    private static List<Frame> Opening() => [new Frame(FrameType.Settings, 0, 0, [0, 4, 0, 0x10, 0, 0])];

    private static List<Frame> Split(int streamId, byte[] block, int frameSize)
    {
        var frames = new List<Frame>();
        for (var at = 0; at < block.Length || at == 0; at += frameSize)
        {
            var end = Math.Min(block.Length, at + frameSize);
            frames.Add(new Frame(at == 0 ? FrameType.Headers : FrameType.Continuation, end == block.Length ? FrameFlags.EndHeaders : (byte)0, streamId, block[at..end]));
            if (end == block.Length)
            {
                break;
            }
        }

        return frames;
    }

    private static Frame Padded(int streamId, byte[] block, Random random)
    {
        var padding = random.Next(0, 32);
        return new Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.Padded | FrameFlags.Priority, streamId, [(byte)padding, 0, 0, 0, 0, 15, .. block, .. new byte[padding]]);
    }

    /// <summary>A frame to serialize; <see cref="LengthOverride"/> makes its length field lie.</summary>
    internal sealed record Frame(FrameType Type, byte Flags, int StreamId, byte[] Payload)
    {
        public int? LengthOverride { get; init; }

        public override string ToString() => $"{Type} flags {Flags:x2} stream {StreamId} {Payload.Length} bytes{(LengthOverride is { } l ? $" (says {l})" : "")} {Encoding.Latin1.GetString(Payload.Take(16).ToArray())}";
    }
}

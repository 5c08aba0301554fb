using System.Buffers;
using Conclave.Cluster.Peers;
using Xunit.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The request channel's frame parser (ADR 0013) against random and mutated bytes: it never throws, never hands out a
/// frame longer than the limit, consumes exactly one frame per success, and a bad header is refused from the header
/// alone (so a hostile length never makes a reader buffer more than the limit).
/// </summary>
public sealed class PeerFrameFuzzTests(ITestOutputHelper output)
{
    private const int MaxPayload = 4096;

    [Fact]
    public void Random_bytes_never_crash_the_parser_and_never_yield_an_oversized_frame()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (var round = 0; round < 20_000; round++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = PeerFrame.Version; // get past the first check more often
            }

            ParseAll(bytes, random);
        }
    }

    [Fact]
    public void Mutated_valid_streams_never_crash_the_parser()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (var round = 0; round < 20_000; round++)
        {
            var stream = ValidStream(random, out _);
            switch (random.Next(4))
            {
                case 0:
                    stream[random.Next(stream.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    stream = stream[..random.Next(stream.Length)];
                    break;
                case 2:
                    // A length field near the limit or past it.
                    BitConverter.TryWriteBytes(stream.AsSpan(4), (uint)(MaxPayload + random.Next(-2, 3)));
                    break;
                default:
                    stream[random.Next(stream.Length)] = (byte)random.Next(256);
                    break;
            }

            ParseAll(stream, random);
        }
    }

    [Fact]
    public void Valid_streams_split_anywhere_parse_into_the_frames_written()
    {
        var random = new Random(7);
        for (var round = 0; round < 2_000; round++)
        {
            var stream = ValidStream(random, out var frames);
            var parsed = ParseAll(stream, random);
            Assert.Equal(frames.Select(f => f.Frame), parsed.Select(f => f.Frame));
            Assert.All(frames.Zip(parsed), p => Assert.Equal(p.First.Payload, p.Second.Payload));
        }
    }

    [Fact]
    public void A_header_announcing_more_than_the_limit_is_refused_before_its_payload_arrives()
    {
        var header = new byte[PeerFrame.HeaderSize];
        new PeerFrame(PeerFrameType.Request, PeerRequestKind.Propose, MaxPayload + 1, 1).WriteHeader(header);
        var buffer = new ReadOnlySequence<byte>(header);
        Assert.Equal(PeerFrameRead.Invalid, PeerFrame.TryRead(ref buffer, MaxPayload, out _, out _, out var error));
        Assert.Contains("at most", error);

        new PeerFrame(PeerFrameType.Request, PeerRequestKind.Propose, int.MaxValue, 1).WriteHeader(header);
        header[7] = 0xFF; // 4 GiB - 1
        buffer = new ReadOnlySequence<byte>(header);
        Assert.Equal(PeerFrameRead.Invalid, PeerFrame.TryRead(ref buffer, MaxPayload, out _, out _, out _));
    }

    /// <summary>Parses everything <paramref name="bytes"/> holds, fed in random pieces; returns the frames read.</summary>
    private static List<(PeerFrame Frame, byte[] Payload)> ParseAll(byte[] bytes, Random random)
    {
        var frames = new List<(PeerFrame, byte[])>();
        var fed = 0;
        var pending = Array.Empty<byte>();
        while (true)
        {
            var step = Math.Min(bytes.Length - fed, random.Next(1, 64));
            pending = [.. pending, .. bytes.AsSpan(fed, step)];
            fed += step;
            var buffer = Segmented(pending, random);
            while (true)
            {
                var before = buffer.Length;
                var read = PeerFrame.TryRead(ref buffer, MaxPayload, out var frame, out var payload, out var error);
                if (read == PeerFrameRead.Invalid)
                {
                    Assert.False(string.IsNullOrEmpty(error));
                    return frames;
                }

                if (read == PeerFrameRead.NeedMore)
                {
                    Assert.Equal(before, buffer.Length);
                    break;
                }

                Assert.InRange(frame.Length, 0, MaxPayload);
                Assert.Equal(frame.Length, payload.Length);
                Assert.Equal(before - PeerFrame.HeaderSize - frame.Length, buffer.Length);
                frames.Add((frame, payload.ToArray()));
            }

            pending = buffer.ToArray();
            if (fed == bytes.Length)
            {
                return frames;
            }
        }
    }

    /// <summary>A few well-formed frames of every type, written back to back.</summary>
    private static byte[] ValidStream(Random random, out List<(PeerFrame Frame, byte[] Payload)> frames)
    {
        frames = [];
        var stream = new List<byte>();
        for (var i = random.Next(1, 5); i > 0; i--)
        {
            var type = (PeerFrameType)random.Next(1, 7);
            var payload = type is PeerFrameType.Request or PeerFrameType.Answer or PeerFrameType.Error ? new byte[random.Next(0, 300)] : [];
            random.NextBytes(payload);
            var kind = type == PeerFrameType.Request ? (PeerRequestKind)random.Next(0, 20) : 0;
            var frame = new PeerFrame(type, kind, payload.Length, (ulong)random.NextInt64());
            var header = new byte[PeerFrame.HeaderSize];
            frame.WriteHeader(header);
            stream.AddRange(header);
            stream.AddRange(payload);
            frames.Add((frame, payload));
        }

        return [.. stream];
    }

    /// <summary>The bytes as a sequence of up to four segments, as a pipe hands them out.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, Random random)
    {
        if (bytes.Length < 2 || random.Next(2) == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var cuts = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(1, bytes.Length)).Distinct().Order().ToList();
        Segment? first = null;
        Segment? last = null;
        var start = 0;
        foreach (var cut in cuts.Append(bytes.Length))
        {
            var memory = bytes.AsMemory(start, cut - start);
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
            start = cut;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

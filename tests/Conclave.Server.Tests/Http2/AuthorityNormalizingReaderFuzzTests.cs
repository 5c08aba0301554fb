using System.Buffers;
using System.IO.Pipelines;
using Conclave.Server.Grpc.Authority;
using Conclave.Server.Http2;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// The :authority pre-parser reads bytes from anyone who can connect. Fed real client traffic and thousands of
/// mutations of it, in pieces of random sizes and read back the way Kestrel's input loop reads, it never throws,
/// always gets to the end, and allocates no more than a few times the input plus its fixed buffers (unbounded, a
/// 90 KB input allocated 3.5 GB). <c>FUZZ_SEED</c> replays a run; <c>FUZZ_ITERATIONS</c> runs more.
/// </summary>
public sealed class AuthorityNormalizingReaderFuzzTests(ITestOutputHelper output)
{
    /// <summary>Buffers every reader keeps (block, encoder, HPACK scratch, output pipe segments) and exceptions.</summary>
    private const long FixedAllowance = 1024 * 1024;

    private const int AllowancePerInputByte = 4;

    /// <summary>
    /// What one read costs besides: nothing in a Release build, async state machine objects in the Debug build the
    /// tests usually run (where they are classes, allocated on every call).
    /// </summary>
#if DEBUG
    private const int AllowancePerRead = 1024;
#else
    private const int AllowancePerRead = 0;
#endif

    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), out var s) ? s : 18_003;
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_ITERATIONS"), out var n) ? n : 3_000;

    [Fact]
    public void Random_and_mutated_frame_sequences_never_throw_and_allocate_in_proportion_to_the_input()
    {
        var random = new Random(Seed);
        var seeds = FrameSequenceFuzzer.Seeds(random);
        var limits = HeaderBlockLimits.FromKestrel(new KestrelServerLimits(), new ManualClock());
        long most = 0;
        var mostFor = "";
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < Iterations; i++)
        {
            var (name, frames) = seeds[random.Next(seeds.Count)];
            var input = i % 10 == 0 ? Garbage(random) : FrameSequenceFuzzer.Mutate(frames, random);
            var chunk = random.Next(3) == 0 ? int.MaxValue : random.Next(1, 4096);
            var take = random.Next(2) == 0 ? int.MaxValue : random.Next(1, 8192);
            var reader = new AuthorityNormalizingReader(new ChunkedPipeReader(input, () => chunk == int.MaxValue ? chunk : random.Next(1, chunk + 1)), limits);

            var before = GC.GetAllocatedBytesForCurrentThread();
            string outcome;
            int reads;
            try
            {
                (outcome, reads) = ReadToEnd(reader, input.Length, take);
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {Seed}, iteration {i} ({name}, {input.Length} bytes): {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 256)))}");
                throw;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            reader.Complete();
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            var beyond = allocated - FixedAllowance - ((long)AllowancePerRead * reads);
            if (allocated > most)
            {
                (most, mostFor) = (allocated, $"{name}, {input.Length} bytes in {reads} reads");
            }

            Assert.True(
                beyond <= AllowancePerInputByte * (long)input.Length,
                $"seed {Seed}, iteration {i} ({name}): {allocated} bytes allocated in {reads} reads of {input.Length} bytes of input");
        }

        output.WriteLine($"seed {Seed}, {Iterations} inputs: {string.Join(", ", outcomes.Select(o => $"{o.Key} x{o.Value}"))}; most allocated for one input {most / 1024} KiB ({mostFor})");
    }

    [Fact]
    public void Random_header_blocks_decode_or_fail_with_an_hpack_error_within_the_limits()
    {
        var random = new Random(Seed);
        var limits = HeaderBlockLimits.FromKestrel(new KestrelServerLimits(), TimeProvider.System).Hpack;
        var seeds = FrameSequenceFuzzer.Seeds(random).SelectMany(s => s.Frames).Where(f => f.Type is FrameType.Headers or FrameType.Continuation).Select(f => f.Payload).ToArray();
        var decoder = new HpackDecoder(4096, limits);
        var sink = new SizeSink();
        for (var i = 0; i < Iterations * 3; i++)
        {
            var block = (byte[])seeds[random.Next(seeds.Length)].Clone();
            for (var n = random.Next(0, 6); n > 0 && block.Length > 0; n--)
            {
                block[random.Next(block.Length)] = (byte)random.Next(256);
            }

            if (i % 7 == 0)
            {
                decoder = new HpackDecoder(4096, limits); // a fresh connection now and then
            }

            sink.Reset();
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                decoder.Decode(block, sink);
            }
            catch (HpackException)
            {
                // The documented failure: the connection ends with COMPRESSION_ERROR (or PROTOCOL_ERROR for a limit).
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(sink.Bytes <= limits.MaxHeaderListSize && sink.Fields <= limits.MaxFieldCount, $"iteration {i}: {sink.Fields} fields, {sink.Bytes} bytes decoded");
            Assert.True(allocated <= 64 * 1024 + (AllowancePerInputByte * (long)block.Length), $"iteration {i}: {allocated} bytes allocated for a {block.Length}-byte block");
        }
    }

    /// <summary>Reads like Kestrel's input copy loop (at most <paramref name="take"/> bytes at a time) until the end.</summary>
    private static (string Outcome, int Reads) ReadToEnd(AuthorityNormalizingReader reader, int inputLength, int take)
    {
        long seen = 0;
        var maxReads = (10L * inputLength) + 1000;
        for (var reads = 0; reads < maxReads; reads++)
        {
            var pending = reader.ReadAsync();
            Assert.True(pending.IsCompleted, "the reader waited although all its input is at hand");
#pragma warning disable VSTHRD002 // completed (asserted just above): the result is at hand, nothing blocks
            var result = pending.Result;
#pragma warning restore VSTHRD002
            var slice = result.Buffer.Slice(0, Math.Min(take, result.Buffer.Length));
            seen += slice.Length;
            reader.AdvanceTo(slice.End);
            if ((result.IsCompleted || result.IsCanceled) && slice.Length == result.Buffer.Length)
            {
                return (reader.Rewriting ? "rewritten" : seen == inputLength ? "passed through" : "ended early", reads + 1);
            }
        }

        Assert.Fail($"no end after {maxReads} reads of {inputLength} bytes");
        return ("stuck", 0);
    }

    private static byte[] Garbage(Random random)
    {
        var bytes = new byte[random.Next(0, 2048)];
        random.NextBytes(bytes);
        return [.. FrameWriter.Preface, .. bytes];
    }

    private sealed class SizeSink : IHeaderSink
    {
        public long Bytes { get; private set; }

        public int Fields { get; private set; }

        public void Reset() => (Bytes, Fields) = (0, 0);

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            Bytes += name.Length + value.Length;
            Fields++;
        }
    }
}

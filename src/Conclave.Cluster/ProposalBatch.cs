using System.Buffers;
using Conclave.Api.Raft;
using Google.Protobuf;

namespace Conclave.Cluster;

/// <summary>
/// The proposals that share one log entry, and that entry's payload: a <see cref="CommandBatch"/>
/// (format_version 1) serialized straight into a pooled buffer. The batch rides along the entry as
/// DotNext's per-entry context, so the apply of the entry on this member hands each proposer its result.
/// </summary>
internal sealed class ProposalBatch
{
    /// <summary>The <see cref="CommandBatch.FormatVersion"/> this build writes (2: commands name their keyspace, ADR 0012).</summary>
    public const uint CurrentFormatVersion = 2;

    /// <summary>The oldest <see cref="CommandBatch.FormatVersion"/> this build still accepts (1: every command writes the user keyspace).</summary>
    public const uint OldestFormatVersion = 1;
    private const byte FormatVersionTag = (1 << 3) | 0; // field 1, varint
    private const byte CommandTag = (2 << 3) | 2; // field 2, length-delimited
    private const byte OriginMemberTag = (3 << 3) | 0; // field 3, varint
    private const byte OriginBatchTag = (4 << 3) | 0; // field 4, varint
    private readonly Proposal[] proposals;
    private byte[]? buffer;
    private Task? done;

    private ProposalBatch(Proposal[] proposals, byte[] buffer, int length, ulong id)
    {
        this.proposals = proposals;
        this.buffer = buffer;
        Id = id;
        Payload = buffer.AsMemory(0, length);
    }

    public int Count => proposals.Length;

    /// <summary>Unique among the batches of this member's process (see <see cref="CommandBatch.OriginBatch"/>).</summary>
    public ulong Id { get; }

    /// <summary>Completes (never faults) once every proposal in the batch has an outcome.</summary>
    public Task Done => done ??= Task.WhenAll(proposals.Select(static p => p.Task))
        .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Whether every proposal has an outcome.</summary>
    public bool IsSettled => proposals.All(static p => p.Task.IsCompleted);

    public ReadOnlyMemory<byte> Payload { get; private set; }

    /// <summary>The batch's <c>raft.propose</c> span while something traces (see <see cref="ClusterTracing"/>).</summary>
    public System.Diagnostics.Activity? Span { get; set; }

    /// <summary>Starts <see cref="Span"/>'s activity (null when nobody traces).</summary>
    public System.Diagnostics.Activity? StartSpan() => ClusterTracing.StartProposal(proposals, Payload.Length);

    /// <summary>Notes on the span the log position the batch was applied at.</summary>
    public void Applied(long index, long term)
    {
        if (Span is { } span)
        {
            span.SetTag("conclave.raft.index", index);
            span.SetTag("conclave.raft.term", term);
            span.AddEvent(new System.Diagnostics.ActivityEvent("applied"));
        }
    }

    /// <summary>Bytes one command adds to a batch: its tag, its length prefix and itself.</summary>
    public static int FramedSize(int commandSize) => 1 + CodedOutputStream.ComputeLengthSize(commandSize) + commandSize;

    public static ProposalBatch Create(List<Proposal> pending, ulong origin, ulong id)
    {
        var proposals = pending.ToArray();
        var length = 2 // format_version: tag + one-byte varint
            + 1 + CodedOutputStream.ComputeUInt64Size(origin)
            + 1 + CodedOutputStream.ComputeUInt64Size(id);
        foreach (var p in proposals)
        {
            length += FramedSize(p.Size);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var span = buffer.AsSpan(0, length);
        span[0] = FormatVersionTag;
        span[1] = (byte)CurrentFormatVersion;
        var position = 2;
        span[position++] = OriginMemberTag;
        position += WriteVarint(span[position..], origin);
        span[position++] = OriginBatchTag;
        position += WriteVarint(span[position..], id);
        foreach (var p in proposals)
        {
            span[position++] = CommandTag;
            position += WriteVarint(span[position..], (uint)p.Size);
            p.Command.WriteTo(span.Slice(position, p.Size));
            position += p.Size;
        }

        return new ProposalBatch(proposals, buffer, length, id);
    }

    /// <summary>
    /// Reads the origin of a batch written by <see cref="Create"/> from the start of its payload, without
    /// parsing the commands. Entries without an origin (other writers, empty entries) answer false.
    /// </summary>
    public static bool TryReadOrigin(ReadOnlySpan<byte> payload, out ulong origin, out ulong id)
    {
        origin = id = 0;
        if (payload.Length < 4 || payload[0] != FormatVersionTag || payload[2] != OriginMemberTag)
        {
            return false;
        }

        var position = 3;
        if (!TryReadVarint(payload, ref position, out origin) || position >= payload.Length || payload[position++] != OriginBatchTag)
        {
            return false;
        }

        return TryReadVarint(payload, ref position, out id);
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < span.Length; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Hands each proposer its command's result, as returned by the state machine.</summary>
    /// <returns><see langword="false"/> if the number of results does not match the number of commands.</returns>
    public bool Complete(IReadOnlyList<object?> results)
    {
        if (results.Count != proposals.Length)
        {
            Fail(new InvalidOperationException(
                $"The state machine returned {results.Count} results for a batch of {proposals.Length} commands."));
            return false;
        }

        for (var i = 0; i < proposals.Length; i++)
        {
            proposals[i].TrySetResult(results[i]);
        }

        return true;
    }

    /// <summary>Fails every proposal that has no result yet.</summary>
    /// <returns>How many proposals this call failed.</returns>
    public int Fail(Exception error)
    {
        var failed = 0;
        foreach (var p in proposals)
        {
            if (p.TrySetException(error))
            {
                failed++;
            }
        }

        return failed;
    }

    /// <summary>Returns the payload buffer once the log has its own copy (after the append).</summary>
    public void ReleasePayload()
    {
        var b = Interlocked.Exchange(ref buffer, null);
        if (b is not null)
        {
            Payload = default;
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }
}

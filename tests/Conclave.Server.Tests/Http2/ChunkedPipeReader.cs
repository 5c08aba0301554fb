using System.Buffers;
using System.IO.Pipelines;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// A socket's reader played from a byte array: each read shows <c>chunk</c> more bytes than the last one examined,
/// and every read completes at once, so a reader under test runs on the test's thread from start to end (its
/// allocations can be counted with <see cref="GC.GetAllocatedBytesForCurrentThread"/>) while still seeing data
/// arrive in pieces.
/// </summary>
internal sealed class ChunkedPipeReader(byte[] data, Func<int> chunk) : PipeReader
{
    private readonly ReadOnlySequence<byte> all = new(data);
    private long consumed;
    private long revealed;
    private bool canceled;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        TryRead(out var result);
        return ValueTask.FromResult(result);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (canceled)
        {
            canceled = false;
            result = new ReadResult(all.Slice(consumed, revealed - consumed), isCanceled: true, isCompleted: false);
            return true;
        }

        revealed = Math.Min(data.Length, Math.Max(revealed, consumed) + Math.Max(1, chunk()));
        result = new ReadResult(all.Slice(consumed, revealed - consumed), isCanceled: false, isCompleted: revealed == data.Length);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) =>
        this.consumed = all.Slice(0, consumed).Length;

    public override void CancelPendingRead() => canceled = true;

    public override void Complete(Exception? exception = null)
    {
    }
}

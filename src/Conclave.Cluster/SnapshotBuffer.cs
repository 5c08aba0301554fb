using System.Buffers;

namespace Conclave.Cluster;

/// <summary>
/// Write-only stream that collects a snapshot image in pooled 1 MiB chunks, so the state machine can write
/// its image quickly under the apply order and the file is written in the background. Unlike a
/// MemoryStream it never copies on growth and is not limited to 2 GiB.
/// </summary>
internal sealed class SnapshotBuffer : Stream
{
    private const int ChunkSize = 1024 * 1024;
    private readonly List<byte[]> chunks = [];
    private int lastChunkUsed = ChunkSize;
    private long length;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => length;

    public override long Position
    {
        get => length;
        set => throw new NotSupportedException();
    }

    /// <summary>The written bytes, in order.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Segments
    {
        get
        {
            for (var i = 0; i < chunks.Count; i++)
            {
                yield return chunks[i].AsMemory(0, i == chunks.Count - 1 ? lastChunkUsed : ChunkSize);
            }
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            if (lastChunkUsed == ChunkSize)
            {
                chunks.Add(ArrayPool<byte>.Shared.Rent(ChunkSize));
                lastChunkUsed = 0;
            }

            var n = Math.Min(buffer.Length, ChunkSize - lastChunkUsed);
            buffer[..n].CopyTo(chunks[^1].AsSpan(lastChunkUsed));
            lastChunkUsed += n;
            length += n;
            buffer = buffer[n..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var chunk in chunks)
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            chunks.Clear();
        }

        base.Dispose(disposing);
    }
}

using System.Buffers;

namespace Conclave.Cluster;

/// <summary>
/// Write-only stream that collects a snapshot image in pooled 1 MiB chunks, so the state machine can write
/// its image quickly under the apply order and the file is written in the background. Unlike a
/// MemoryStream it never copies on growth and is not limited to 2 GiB.
/// </summary>
internal sealed class SnapshotBuffer : WriteOnlyStream
{
    private const int ChunkSize = 1024 * 1024;
    private readonly List<byte[]> chunks = [];
    private int lastChunkUsed = ChunkSize;
    private long length;

    public override long Length => length;

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

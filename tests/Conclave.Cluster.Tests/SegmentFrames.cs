using System.Buffers.Binary;

namespace Conclave.Cluster.Tests;

/// <summary>Reads a log segment's frames as the tests that damage segments need them: each frame's offset and length.</summary>
internal static class SegmentFrames
{
    /// <summary>The frames of one segment's bytes, in order, up to the first zero frame header.</summary>
    public static List<(long Offset, int Length)> Of(byte[] segment)
    {
        var frames = new List<(long Offset, int Length)>();
        for (long at = LogSegments.SegmentHeaderSize; at + 8 <= segment.Length;)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(segment.AsSpan((int)at));
            if (length == 0)
            {
                break;
            }

            frames.Add((at, 8 + length));
            at += 8 + length;
        }

        return frames;
    }
}

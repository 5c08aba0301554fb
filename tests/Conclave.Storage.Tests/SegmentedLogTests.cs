using System.Runtime.CompilerServices;
using Conclave.Storage.Watch;

namespace Conclave.Storage.Tests;

/// <summary>
/// The event log's segmented sequence against a plain list: random appends, drops from the front (inside a segment, at
/// its edges, past everything) and clears, across many segments.
/// </summary>
public sealed class SegmentedLogTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BehavesAsAListThatDropsItsFront(int seed)
    {
        var random = new Random(seed);
        var log = new SegmentedLog<string>();
        var model = new List<string>();
        long modelStart = 0;
        for (var step = 0; step < 400; step++)
        {
            var roll = random.Next(100);
            if (roll < 70)
            {
                // Appends in runs of up to 1.5 segments, so that segments fill, and drops cross their edges.
                var n = random.Next(SegmentedLog<string>.SegmentLength * 3 / 2);
                for (var i = 0; i < n; i++)
                {
                    var item = $"{modelStart + model.Count}";
                    log.Add(item);
                    model.Add(item);
                }
            }
            else if (roll < 97)
            {
                var edge = random.Next(3) == 0 && model.Count > 0
                    ? ((modelStart / SegmentedLog<string>.SegmentLength) + 1) * SegmentedLog<string>.SegmentLength // a segment's edge
                    : modelStart + random.Next(model.Count + 10); // sometimes past the end
                log.DropBefore(edge);
                var dropped = (int)Math.Clamp(edge - modelStart, 0, model.Count);
                model.RemoveRange(0, dropped);
                modelStart += dropped;
            }
            else
            {
                log.Clear();
                model.Clear();
                modelStart = 0;
            }

            Assert.Equal(modelStart, log.Start);
            Assert.Equal(modelStart + model.Count, log.End);
            for (var i = 0; i < model.Count; i += 1 + random.Next(64))
            {
                Assert.Equal(model[i], log[modelStart + i]);
            }

            if (model.Count > 0)
            {
                Assert.Equal(model[^1], log[log.End - 1]);
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => log[log.End]);
            if (log.Start > 0)
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => log[log.Start - 1]);
            }
        }
    }

    [Fact]
    public void DroppedItemsAreNotKeptAliveByTheSegmentThatStays()
    {
        var log = new SegmentedLog<object>();
        var weak = AddDroppedItem(log);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.False(weak.IsAlive);
        Assert.Equal(1, log.Count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddDroppedItem(SegmentedLog<object> log)
    {
        var item = new object();
        log.Add(item);
        log.Add("kept");
        log.DropBefore(1);
        return new WeakReference(item);
    }
}

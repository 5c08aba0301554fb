using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// The compact history of one key (one version inline, an array only while there are more) against a plain list:
/// random appends, deletions and compactions, and every read in between, must agree.
/// </summary>
public sealed class KeyHistoryTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Appends_reads_and_compactions_agree_with_a_list(int seed)
    {
        var random = new Random(seed);
        var key = ByteString.CopyFromUtf8("k");
        var history = new KeyHistory(key);
        var model = new List<KeyVersion>();
        long revision = 0;
        long compacted = 0;
        for (var step = 0; step < 5_000; step++)
        {
            var roll = random.Next(10);
            if (roll < 6)
            {
                revision++;
                var version = random.Next(4) == 0 && model.Count > 0 && !model[^1].IsTombstone
                    ? KeyVersion.Tombstone(revision, 0)
                    : new KeyVersion(revision, 0, revision, revision, 0, System.Text.Encoding.UTF8.GetBytes($"v{revision}"));
                history.Append(version);
                model.Add(version);
            }
            else if (roll < 8 && revision > compacted)
            {
                var at = compacted + 1 + random.NextInt64(revision - compacted);
                var keep = model.FindLastIndex(v => v.Main <= at);
                var drop = keep < 0 ? 0 : model[keep].IsTombstone && model[keep].Main < at ? keep + 1 : keep;
                var expectedFreed = model.Take(drop).Sum(v => v.Cost(key.Length));
                Assert.Equal(expectedFreed, history.Compact(at).Cost);
                model.RemoveRange(0, drop);
                compacted = at;
            }

            Assert.Equal(model.Count, history.Count);
            Assert.Equal(model, history.Versions.ToArray());
            Assert.Equal(model.Count == 0 ? null : model[^1].ToKeyValue(key), history.Latest);
            var probe = compacted + random.NextInt64(revision - compacted + 2);
            Assert.Equal(model.LastOrDefault(v => v.Main <= probe) is { Main: > 0 } visible ? visible.ToKeyValue(key) : null, history.At(probe));
        }
    }
}

using Conclave.Api.Raft;
using Conclave.Cluster;
using Google.Protobuf;

namespace Conclave.Cluster.Tests;

/// <summary>
/// A small deterministic state machine: records every applied put's key in order and the log entries that
/// carried them; each command's result is its sequence number (1-based) over the whole history.
/// </summary>
internal sealed class RecordingStateMachine : IReplicatedStateMachine
{
    private readonly Lock sync = new();
    private readonly List<string> keys = [];
    private readonly List<(long Index, int Commands)> entries = [];
    private long appliedIndex;

    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    public int RestoreCount { get; private set; }

    public IReadOnlyList<string> Keys
    {
        get
        {
            lock (sync)
            {
                return keys.ToArray();
            }
        }
    }

    /// <summary>Entries applied since start (not restored from a snapshot).</summary>
    public IReadOnlyList<(long Index, int Commands)> Entries
    {
        get
        {
            lock (sync)
            {
                return entries.ToArray();
            }
        }
    }

    public void ValidateCommand(Command command)
    {
        if (command.KindCase != Command.KindOneofCase.Put || command.Put.Key.IsEmpty)
        {
            throw new ArgumentException("the recording state machine applies puts with a key only");
        }
    }

    public IReadOnlyList<object?> Apply(long index, long term, ReadOnlySpan<byte> payload)
    {
        var batch = CommandBatch.Parser.ParseFrom(payload);
        Assert.InRange(batch.FormatVersion, ProposalBatch.OldestFormatVersion, ProposalBatch.CurrentFormatVersion);
        var results = new object?[batch.Commands.Count];
        lock (sync)
        {
            Assert.True(index > appliedIndex, $"entry {index} applied after {appliedIndex}");
            for (var i = 0; i < results.Length; i++)
            {
                keys.Add(batch.Commands[i].Put.Key.ToStringUtf8());
                results[i] = (long)keys.Count;
            }

            entries.Add((index, results.Length));
            Volatile.Write(ref appliedIndex, index);
        }

        return results;
    }

    public void WriteSnapshot(Stream destination)
    {
        lock (sync)
        {
            using var writer = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(1); // format version
            writer.Write(appliedIndex);
            writer.Write(keys.Count);
            foreach (var key in keys)
            {
                writer.Write(key);
            }
        }
    }

    public void RestoreSnapshot(Stream source)
    {
        using var reader = new BinaryReader(source, System.Text.Encoding.UTF8, leaveOpen: true);
        Assert.Equal(1, reader.ReadInt32());
        var index = reader.ReadInt64();
        var count = reader.ReadInt32();
        var restored = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            restored.Add(reader.ReadString());
        }

        lock (sync)
        {
            keys.Clear();
            keys.AddRange(restored);
            Volatile.Write(ref appliedIndex, index);
            RestoreCount++;
        }
    }

    public static Command Put(string key) => new()
    {
        Put = new Api.Etcd.PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("v") },
    };
}

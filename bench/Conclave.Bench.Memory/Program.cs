using System.Diagnostics;
using System.Globalization;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage;
using Google.Protobuf;

// What the key-value store costs per key: loads KEYS keys of VALUE bytes (16-byte keys, 64 puts per log entry, as
// batching makes them) into a KeyValueStore and reports the managed heap it holds afterwards (after a full
// collection), the bytes per key beyond the raw key and value bytes, and how long a snapshot takes to write and to
// restore. Usage: keyspace-memory KEYS VALUE_BYTES
var keys = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var valueBytes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
const int PerEntry = 64;
var limits = new StoreLimits { QuotaBytes = 64L << 30 };
var store = new KeyValueStore(limits);
var before = GC.GetTotalMemory(forceFullCollection: true);
var value = new byte[valueBytes];
new Random(1).NextBytes(value);
long index = 0;
var clock = Stopwatch.StartNew();
for (var i = 0; i < keys; i += PerEntry)
{
    var commands = new List<Command>(PerEntry);
    for (var j = i; j < Math.Min(keys, i + PerEntry); j++)
    {
        commands.Add(new Command { Put = new PutRequest { Key = ByteString.CopyFromUtf8(j.ToString("D16", CultureInfo.InvariantCulture)), Value = ByteString.CopyFrom(value) } });
    }

    store.Apply(++index, KeyValueStore.Encode(commands));
}

var load = clock.Elapsed;
var held = GC.GetTotalMemory(forceFullCollection: true) - before;
var raw = (long)keys * (16 + valueBytes);
var image = new MemoryStream(capacity: (int)Math.Min(int.MaxValue, raw + (raw / 4)));
clock.Restart();
store.WriteSnapshot(image);
var write = clock.Elapsed;
using var restored = new KeyValueStore(limits);
image.Position = 0;
clock.Restart();
restored.RestoreSnapshot(image);
var restore = clock.Elapsed;
var imageBytes = image.Length;
image = null;
var restoredHeld = GC.GetTotalMemory(forceFullCollection: true) - before - held;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{keys} keys of {valueBytes} bytes: heap {held / 1048576.0:F1} MiB for {raw / 1048576.0:F1} MiB of keys and values, {(held - raw) / (double)keys:F0} bytes per key beyond them ({held / (double)raw:F2}x), {(restoredHeld - raw) / (double)keys:F0} after a restore; load {load.TotalSeconds:F2} s, snapshot of {imageBytes / 1048576.0:F0} MiB written in {write.TotalMilliseconds:F0} ms, restored in {restore.TotalMilliseconds:F0} ms"));
GC.KeepAlive(store);

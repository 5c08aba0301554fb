using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Conclave.Server;

/// <summary>
/// The server's metrics: published through <see cref="System.Diagnostics.Metrics"/> (meter "Conclave.Server")
/// for any listener, and aggregated here for the Prometheus text at <c>/metrics</c>.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly Meter meter = new("Conclave.Server", "1.0");
    private readonly Counter<long> requests;
    private readonly Histogram<double> latency;
    private readonly ConcurrentDictionary<(string Method, string Code), long> requestCounts = new();
    private readonly ConcurrentDictionary<string, LatencyHistogram> latencies = new();
    private readonly Counter<long> malformed;
    private readonly ConcurrentDictionary<string, long> malformedCounts = new();
    private long watchers;
    private long watchEvents;

    public ServerMetrics()
    {
        requests = meter.CreateCounter<long>("conclave.grpc.requests", "{request}", "gRPC requests handled");
        latency = meter.CreateHistogram<double>("conclave.grpc.duration", "s", "gRPC request latency");
        malformed = meter.CreateCounter<long>("conclave.grpc.malformed_requests", "{request}", "Requests refused because their bytes did not decode");
        meter.CreateObservableGauge("conclave.watch.watchers", () => Interlocked.Read(ref watchers), "{watcher}", "Open watchers");
        meter.CreateObservableCounter("conclave.watch.events", () => Interlocked.Read(ref watchEvents), "{event}", "Watch events sent");
    }

    public long Watchers => Interlocked.Read(ref watchers);

    public void RequestHandled(string method, string code, double seconds)
    {
        requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("code", code));
        latency.Record(seconds, new KeyValuePair<string, object?>("method", method));
        requestCounts.AddOrUpdate((method, code), 1, (_, n) => n + 1);
        latencies.GetOrAdd(method, _ => new LatencyHistogram()).Record(seconds);
    }

    /// <summary>A request to <paramref name="method"/> that did not decode (gRPC or the JSON gateway).</summary>
    public void MalformedRequest(string method)
    {
        malformed.Add(1, new KeyValuePair<string, object?>("method", method));
        malformedCounts.AddOrUpdate(method, 1, (_, n) => n + 1);
    }

    public void WatcherAdded() => Interlocked.Increment(ref watchers);

    public void WatcherRemoved() => Interlocked.Decrement(ref watchers);

    public void EventsSent(int count) => Interlocked.Add(ref watchEvents, count);

    /// <summary>Writes the Prometheus text exposition of the server's own series.</summary>
    public void WritePrometheus(StringBuilder text)
    {
        text.AppendLine("# HELP conclave_grpc_requests_total gRPC requests handled, by method and status code.");
        text.AppendLine("# TYPE conclave_grpc_requests_total counter");
        foreach (var ((method, code), n) in requestCounts.OrderBy(p => p.Key.Method, StringComparer.Ordinal).ThenBy(p => p.Key.Code, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"conclave_grpc_requests_total{{method=\"{method}\",code=\"{code}\"}} {n}\n");
        }

        text.AppendLine("# HELP conclave_grpc_request_duration_seconds gRPC request latency.");
        text.AppendLine("# TYPE conclave_grpc_request_duration_seconds histogram");
        foreach (var (method, h) in latencies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            h.Write(text, "conclave_grpc_request_duration_seconds", $"method=\"{method}\"");
        }

        text.AppendLine("# HELP conclave_grpc_malformed_requests_total Requests refused because their bytes did not decode, by method.");
        text.AppendLine("# TYPE conclave_grpc_malformed_requests_total counter");
        foreach (var (method, n) in malformedCounts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"conclave_grpc_malformed_requests_total{{method=\"{method}\"}} {n}\n");
        }

        text.AppendLine("# HELP conclave_watch_watchers Open watchers.");
        text.AppendLine("# TYPE conclave_watch_watchers gauge");
        text.Append(CultureInfo.InvariantCulture, $"conclave_watch_watchers {Watchers}\n");
        text.AppendLine("# HELP conclave_watch_events_total Watch events sent to clients.");
        text.AppendLine("# TYPE conclave_watch_events_total counter");
        text.Append(CultureInfo.InvariantCulture, $"conclave_watch_events_total {Interlocked.Read(ref watchEvents)}\n");
        WriteMemory(text);
    }

    /// <summary>
    /// The process's memory as etcd's Go runtime reports it (<c>process_resident_memory_bytes</c>) and the GC's
    /// view of its heap, so a rising RSS can be told apart: live objects, committed but free GC memory, or
    /// memory outside the GC (the WAL's buffers, native code).
    /// </summary>
    private static void WriteMemory(StringBuilder text)
    {
        var gc = GC.GetGCMemoryInfo();
        Gauge(text, "process_resident_memory_bytes", "Resident memory size in bytes.", Environment.WorkingSet);
        Gauge(text, "dotnet_gc_heap_size_bytes", "GC heap size at the last collection, including fragmentation.", gc.HeapSizeBytes);
        Gauge(text, "dotnet_gc_fragmented_bytes", "Free space inside the GC heap at the last collection.", gc.FragmentedBytes);
        Gauge(text, "dotnet_gc_committed_bytes", "Memory the GC has committed from the OS.", gc.TotalCommittedBytes);
        Gauge(text, "dotnet_gc_allocated_bytes", "Bytes allocated on the GC heap since the process started.", GC.GetTotalAllocatedBytes());
        // Where the heap's size and free space are, by generation (2, the large and the pinned object heaps hold what
        // lives long: a gen2 or LOH whose free space stays high is fragmentation the collector has not compacted away).
        ByGeneration(text, "dotnet_gc_generation_size_bytes", "Size of each generation after the last collection, free space included.",
            gc, static g => g.SizeAfterBytes);
        ByGeneration(text, "dotnet_gc_generation_fragmented_bytes", "Free space in each generation after the last collection.",
            gc, static g => g.FragmentationAfterBytes);
        text.AppendLine("# HELP dotnet_gc_collections_total Garbage collections, by generation.");
        text.AppendLine("# TYPE dotnet_gc_collections_total counter");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            text.Append(CultureInfo.InvariantCulture, $"dotnet_gc_collections_total{{generation=\"{generation}\"}} {GC.CollectionCount(generation)}\n");
        }

        // Time every thread stood still for the collector (Go's go_gc_duration_seconds tells the same story): its rate
        // is the share of time requests could not run.
        text.AppendLine("# HELP dotnet_gc_pause_seconds_total Time the process was paused for garbage collections since it started.");
        text.AppendLine("# TYPE dotnet_gc_pause_seconds_total counter");
        text.Append(CultureInfo.InvariantCulture, $"dotnet_gc_pause_seconds_total {GC.GetTotalPauseDuration().TotalSeconds:0.######}\n");
    }

    private static void ByGeneration(StringBuilder text, string name, string help, GCMemoryInfo gc, Func<GCGenerationInfo, long> value)
    {
        string[] generations = ["0", "1", "2", "loh", "poh"];
        text.Append("# HELP ").Append(name).Append(' ').AppendLine(help);
        text.Append("# TYPE ").Append(name).AppendLine(" gauge");
        var info = gc.GenerationInfo;
        for (var g = 0; g < Math.Min(generations.Length, info.Length); g++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}{{generation=\"{generations[g]}\"}} {value(info[g])}\n");
        }
    }

    private static void Gauge(StringBuilder text, string name, string help, long value)
    {
        text.Append("# HELP ").Append(name).Append(' ').AppendLine(help);
        text.Append("# TYPE ").Append(name).AppendLine(" gauge");
        text.Append(CultureInfo.InvariantCulture, $"{name} {value}\n");
    }

    public void Dispose() => meter.Dispose();

    private sealed class LatencyHistogram
    {
        private readonly long[] counts = new long[LatencyBuckets.Length + 1];
        private long total;
        private long sumMicros;

        public void Record(double seconds)
        {
            var i = 0;
            while (i < LatencyBuckets.Length && seconds > LatencyBuckets[i])
            {
                i++;
            }

            Interlocked.Increment(ref counts[i]);
            Interlocked.Increment(ref total);
            Interlocked.Add(ref sumMicros, (long)(seconds * 1_000_000));
        }

        public void Write(StringBuilder text, string name, string labels)
        {
            long cumulative = 0;
            for (var i = 0; i < LatencyBuckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref counts[i]);
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{LatencyBuckets[i]}\"}} {cumulative}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"+Inf\"}} {Interlocked.Read(ref total)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {Interlocked.Read(ref sumMicros) / 1e6}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count{{{labels}}} {Interlocked.Read(ref total)}\n");
        }
    }
}

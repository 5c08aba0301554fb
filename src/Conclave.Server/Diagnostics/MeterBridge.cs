using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Conclave.Server;

/// <summary>
/// Carries the counters, histograms and observable gauges that other components publish through
/// System.Diagnostics.Metrics (meters named "Conclave.*" other than the server's own) into the Prometheus text at
/// <c>/metrics</c>: counters as <c>_total</c>, histograms as <c>_sum</c> / <c>_count</c>, gauges as their value when
/// scraped. Names: dots become underscores.
/// </summary>
public sealed class MeterBridge : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<Instrument, Aggregate> aggregates = new();

    public MeterBridge()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name.StartsWith("Conclave.", StringComparison.Ordinal) && instrument.Meter.Name != "Conclave.Server"
                && instrument.GetType().Name is var kind
                && (kind.StartsWith("Counter", StringComparison.Ordinal) || kind.StartsWith("Histogram", StringComparison.Ordinal)
                    || kind.StartsWith("ObservableGauge", StringComparison.Ordinal)))
            {
                aggregates.TryAdd(instrument, new Aggregate(
                    kind.StartsWith("Counter", StringComparison.Ordinal) ? Kind.Counter : kind.StartsWith("Histogram", StringComparison.Ordinal) ? Kind.Histogram : Kind.Gauge,
                    (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries));
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument, value));
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument, value));
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument, value));
        listener.Start();
    }

    private void Record(Instrument instrument, double value)
    {
        if (aggregates.TryGetValue(instrument, out var a))
        {
            a.Add(value);
        }
    }

    public void WritePrometheus(StringBuilder text)
    {
        listener.RecordObservableInstruments();
        foreach (var (instrument, a) in aggregates.OrderBy(p => p.Key.Name, StringComparer.Ordinal))
        {
            var name = instrument.Name.Replace('.', '_');
            if (a.Kind == Kind.Gauge)
            {
                text.Append("# HELP ").Append(name).Append(' ').AppendLine(instrument.Description);
                text.Append("# TYPE ").Append(name).AppendLine(" gauge");
                text.Append(CultureInfo.InvariantCulture, $"{name} {a.Sum}\n");
            }
            else if (a.Kind == Kind.Counter)
            {
                text.Append("# HELP ").Append(name).Append("_total ").AppendLine(instrument.Description);
                text.Append("# TYPE ").Append(name).AppendLine("_total counter");
                text.Append(CultureInfo.InvariantCulture, $"{name}_total {a.Sum}\n");
            }
            else if (a.Bounds is { } bounds)
            {
                // Bucket boundaries advised by the instrument: a Prometheus histogram (percentiles, p99 alerts).
                text.Append("# HELP ").Append(name).Append(' ').AppendLine(instrument.Description);
                text.Append("# TYPE ").Append(name).AppendLine(" histogram");
                var (buckets, sum, count) = a.Snapshot();
                long cumulative = 0;
                for (var i = 0; i < bounds.Count; i++)
                {
                    cumulative += buckets[i];
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {count}\n");
                text.Append(CultureInfo.InvariantCulture, $"{name}_sum {sum}\n{name}_count {count}\n");
            }
            else
            {
                text.Append("# HELP ").Append(name).Append(' ').AppendLine(instrument.Description);
                text.Append("# TYPE ").Append(name).AppendLine(" summary");
                text.Append(CultureInfo.InvariantCulture, $"{name}_sum {a.Sum}\n{name}_count {a.Count}\n");
            }
        }
    }

    public void Dispose() => listener.Dispose();

    private enum Kind
    {
        Counter,
        Histogram,
        Gauge,
    }

    private sealed class Aggregate(Kind kind, IReadOnlyList<double>? bounds)
    {
        private readonly Lock gate = new();
        private readonly long[]? buckets = bounds is null ? null : new long[bounds.Count + 1];
        private double sum;
        private long count;

        public Kind Kind { get; } = kind;

        /// <summary>A histogram's upper bucket bounds (its instrument's advice), or null to export a sum and a count only.</summary>
        public IReadOnlyList<double>? Bounds { get; } = bounds;

        /// <summary>The per-bucket (not cumulative) counts, the sum and the count, read together.</summary>
        public (long[] Buckets, double Sum, long Count) Snapshot()
        {
            lock (gate)
            {
                return ((long[])buckets!.Clone(), sum, count);
            }
        }

        public double Sum
        {
            get { lock (gate) { return sum; } }
        }

        public long Count
        {
            get { lock (gate) { return count; } }
        }

        public void Add(double value)
        {
            lock (gate)
            {
                // A gauge reports its value when observed; counters and histograms accumulate.
                sum = Kind == Kind.Gauge ? value : sum + value;
                count++;
                if (buckets is not null)
                {
                    var i = 0;
                    while (i < Bounds!.Count && value > Bounds[i])
                    {
                        i++;
                    }

                    buckets[i]++;
                }
            }
        }
    }
}

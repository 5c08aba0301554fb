using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Conclave.Bench;

/// <summary>Prints bench figures as text for people or as one JSON object for scripts (<c>--json</c>).</summary>
internal static class BenchReport
{
    public static string ClosedLoop(string name, BenchSettings settings, ClosedLoopResult result, string extra)
    {
        if (settings.Json)
        {
            return BenchJson.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("bench", name);
                Settings(json, settings);
                json.WriteNumber("total", result.Succeeded);
                json.WriteNumber("errors", result.Errors);
                json.WriteNumber("duration_s", Round(result.Elapsed.TotalSeconds));
                json.WriteNumber("requests_per_s", Round(result.RequestsPerSecond));
                if (ServerCpuMicrosPerRequest(result) is { } cpu)
                {
                    json.WriteNumber("server_cpu_us_per_req", Round(cpu));
                }

                Latency(json, "latency_ms", result.Latency);
                Errors(json, result.ErrorKinds);
                json.WriteEndObject();
            }) + "\n";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench {name}: {settings.Describe()}{extra}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Total:       {result.Succeeded}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Errors:      {result.Errors}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Duration:    {result.Elapsed.TotalSeconds:0.000} s\n");
        text.Append(CultureInfo.InvariantCulture, $"  Requests/s:  {result.RequestsPerSecond:0.0}\n");
        if (ServerCpuMicrosPerRequest(result) is { } serverCpu)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Server CPU:  {serverCpu:0.0} us/request\n");
        }

        text.Append(LatencyLine("Latency", result.Latency));
        ErrorLines(text, result.ErrorKinds);
        return text.ToString();
    }

    public static string Watch(BenchSettings settings, WatchBenchResult result)
    {
        if (settings.Json)
        {
            return BenchJson.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("bench", "watch");
                Settings(json, settings);
                json.WriteNumber("watchers", result.Watchers);
                json.WriteNumber("rate", result.Rate);
                json.WriteNumber("puts", result.Puts.Succeeded);
                json.WriteNumber("put_errors", result.Puts.Errors);
                json.WriteNumber("duration_s", Round(result.Puts.Elapsed.TotalSeconds));
                json.WriteNumber("puts_per_s", Round(result.Puts.RequestsPerSecond));
                json.WriteNumber("events_expected", result.ExpectedEvents);
                json.WriteNumber("events_received", result.ReceivedEvents);
                json.WriteNumber("events_per_s", Round(result.EventsPerSecond));
                json.WriteNumber("lost", result.Lost);
                json.WriteNumber("watchers_with_loss", result.WatchersWithLoss);
                json.WriteNumber("duplicates", result.Duplicates);
                json.WriteNumber("watch_errors", result.WatchErrors);
                if (result.ServerRssKb is { } rss)
                {
                    json.WriteNumber("server_rss_kb", rss);
                }

                Latency(json, "delivery_latency_ms", result.Delivery);
                Latency(json, "put_latency_ms", result.Puts.Latency);
                Errors(json, result.Puts.ErrorKinds);
                json.WriteEndObject();
            }) + "\n";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench watch: {result.Watchers} watcher(s), {(result.Rate > 0 ? result.Rate + " puts/s" : "unthrottled")}, {settings.Describe()}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Puts:        {result.Puts.Succeeded} ({result.Puts.RequestsPerSecond:0.0}/s over {result.Puts.Elapsed.TotalSeconds:0.000} s)\n");
        text.Append(CultureInfo.InvariantCulture, $"  Put errors:  {result.Puts.Errors}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Events:      {result.ReceivedEvents} received of {result.ExpectedEvents} expected ({result.EventsPerSecond:0.0}/s)\n");
        text.Append(CultureInfo.InvariantCulture, $"  Lost:        {result.Lost} (in {result.WatchersWithLoss} watcher(s)), duplicates {result.Duplicates}, watch errors {result.WatchErrors}\n");
        if (result.ServerRssKb is { } rssKb)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Server RSS:  {rssKb / 1024.0:0.0} MiB with every watcher attached\n");
        }

        text.Append(LatencyLine("Delivery", result.Delivery));
        text.Append(LatencyLine("Put", result.Puts.Latency));
        ErrorLines(text, result.Puts.ErrorKinds);
        return text.ToString();
    }

    private static string LatencyLine(string label, LatencySummary l) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"  {label + " ms:",-13}avg {l.Average:0.000}  p50 {l.P50:0.000}  p90 {l.P90:0.000}  p99 {l.P99:0.000}  max {l.Max:0.000}\n");

    private static void ErrorLines(StringBuilder text, IReadOnlyDictionary<string, long> kinds)
    {
        foreach (var (kind, count) in kinds)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Error x{count}: {kind}\n");
        }
    }

    private static void Settings(Utf8JsonWriter json, BenchSettings settings)
    {
        json.WriteNumber("conns", settings.Conns);
        json.WriteNumber("clients", settings.Clients);
        json.WriteNumber("key_size", settings.KeySize);
        json.WriteNumber("val_size", settings.ValueSize);
        if (settings.Tls is not null)
        {
            json.WriteBoolean("tls", true);
        }

        if (settings.Credentials is { } credentials)
        {
            json.WriteString("user", credentials.Name);
        }
    }

    private static void Latency(Utf8JsonWriter json, string name, LatencySummary l)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", l.Count);
        json.WriteNumber("avg", Round(l.Average));
        json.WriteNumber("min", Round(l.Min));
        json.WriteNumber("p50", Round(l.P50));
        json.WriteNumber("p90", Round(l.P90));
        json.WriteNumber("p99", Round(l.P99));
        json.WriteNumber("p999", Round(l.P999));
        json.WriteNumber("max", Round(l.Max));
        json.WriteEndObject();
    }

    private static void Errors(Utf8JsonWriter json, IReadOnlyDictionary<string, long> kinds)
    {
        json.WriteStartObject("error_kinds");
        foreach (var (kind, count) in kinds)
        {
            json.WriteNumber(kind, count);
        }

        json.WriteEndObject();
    }

    private static double? ServerCpuMicrosPerRequest(ClosedLoopResult result) =>
        result.ServerCpuSeconds is { } seconds && result.Succeeded > 0 ? seconds * 1e6 / result.Succeeded : null;

    private static double Round(double value) => Math.Round(value, 3);
}

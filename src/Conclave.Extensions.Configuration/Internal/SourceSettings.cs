using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Reads <see cref="ConclaveConfigurationOptions"/> from a configuration section (e.g. <c>Conclave</c> in
/// appsettings.json). Lists are arrays or comma-separated strings and replace the defaults (the binder would append).
/// </summary>
internal static class SourceSettings
{
    public static void Read(IConfiguration section, ConclaveConfigurationOptions options)
    {
        if (List(section, "Endpoints") is { Count: > 0 } endpoints)
        {
            options.Endpoints = endpoints;
        }

        if (List(section, "Namespaces") is { Count: > 0 } namespaces)
        {
            options.Namespaces = namespaces;
        }

        options.App = section["App"] ?? options.App;
        options.Environment = section["Environment"] ?? options.Environment;
        options.InstanceId = section["InstanceId"] ?? options.InstanceId;
        foreach (var label in section.GetSection("Labels").GetChildren())
        {
            options.Labels[label.Key] = label.Value ?? string.Empty;
        }

        options.Optional = Flag(section, "Optional") ?? options.Optional;
        options.ReportDelivery = Flag(section, "ReportDelivery") ?? options.ReportDelivery;
        options.StartupTimeout = Time(section, "StartupTimeout") ?? options.StartupTimeout;
        options.RetryBaseDelay = Time(section, "RetryBaseDelay") ?? options.RetryBaseDelay;
        options.RetryMaxDelay = Time(section, "RetryMaxDelay") ?? options.RetryMaxDelay;
        options.ReportSpread = Time(section, "ReportSpread") ?? options.ReportSpread;
        options.CacheDirectory = section["CacheDirectory"] ?? options.CacheDirectory;
        options.CachePath = section["CachePath"] ?? options.CachePath;
        options.CacheKey = section["CacheKey"] ?? options.CacheKey;
        options.AccessKey = section["AccessKey"] ?? options.AccessKey;
    }

    private static List<string>? List(IConfiguration section, string key) =>
        section[key] is { Length: > 0 } text
            ? [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
            : [.. section.GetSection(key).GetChildren().Select(c => c.Value).OfType<string>()];

    private static bool? Flag(IConfiguration section, string key) =>
        section[key] is not { Length: > 0 } text ? null
        : bool.TryParse(text, out var value) ? value
        : throw new FormatException($"Conclave setting {key} = '{text}' is not true or false.");

    private static TimeSpan? Time(IConfiguration section, string key) =>
        section[key] is not { Length: > 0 } text ? null
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"Conclave setting {key} = '{text}' is not a time span (e.g. 00:00:05).");
}

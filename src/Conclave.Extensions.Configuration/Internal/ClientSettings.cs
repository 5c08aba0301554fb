using System.Globalization;
using Conclave.Client;
using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>Reads <see cref="ConclaveClientOptions"/> from a configuration section; absent keys keep the defaults.</summary>
internal static class ClientSettings
{
    public static ConclaveClientOptions Read(IConfiguration section)
    {
        var options = new ConclaveClientOptions();
        var endpoints = section["Endpoints"] is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [.. section.GetSection("Endpoints").GetChildren().Select(c => c.Value).OfType<string>()];
        return options with
        {
            Endpoints = endpoints.Length > 0 ? endpoints : options.Endpoints,
            InstanceId = section["InstanceId"] ?? options.InstanceId,
            DialTimeout = Time(section, "DialTimeout") ?? options.DialTimeout,
            RequestTimeout = Time(section, "RequestTimeout") ?? options.RequestTimeout,
            MaxAttempts = Number(section, "MaxAttempts") ?? options.MaxAttempts,
            RetryBaseDelay = Time(section, "RetryBaseDelay") ?? options.RetryBaseDelay,
            RetryMaxDelay = Time(section, "RetryMaxDelay") ?? options.RetryMaxDelay,
            KeepAliveInterval = Time(section, "KeepAliveInterval") ?? options.KeepAliveInterval,
            KeepAliveTimeout = Time(section, "KeepAliveTimeout") ?? options.KeepAliveTimeout,
            WatchBufferCapacity = Number(section, "WatchBufferCapacity") ?? options.WatchBufferCapacity,
            CaFile = section["CaFile"] ?? options.CaFile,
            CertFile = section["CertFile"] ?? options.CertFile,
            KeyFile = section["KeyFile"] ?? options.KeyFile,
        };
    }

    private static TimeSpan? Time(IConfiguration section, string key) =>
        section[key] is not { Length: > 0 } text ? null
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"Conclave client setting {key} = '{text}' is not a time span (e.g. 00:00:05).");

    private static int? Number(IConfiguration section, string key) =>
        section[key] is not { Length: > 0 } text ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"Conclave client setting {key} = '{text}' is not a whole number.");
}

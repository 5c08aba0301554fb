using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>Builds configurations with a Conclave source the way apps do.</summary>
public static class Sources
{
    /// <summary>A random AES-256 key in the documented form (base64 of 32 bytes).</summary>
    public static string NewCacheKey() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public static ConclaveConfigurationOptions Options(string endpoint, string app, string instanceId, params string[] namespaces) => new()
    {
        Endpoints = [endpoint],
        App = app,
        Environment = "PRO",
        Namespaces = namespaces.Length == 0 ? ["application"] : [.. namespaces],
        InstanceId = instanceId,
        CacheKey = null,
        RetryBaseDelay = TimeSpan.FromMilliseconds(100),
        RetryMaxDelay = TimeSpan.FromSeconds(1),
    };

    public static ConfigurationRoot Build(ConclaveConfigurationOptions options) =>
        (ConfigurationRoot)new ConfigurationBuilder().AddConclave(o => Copy(options, o)).Build();

    public static ConclaveConfigurationProvider Provider(this IConfiguration configuration) => configuration.GetConclaveProviders().Single();

    private static void Copy(ConclaveConfigurationOptions from, ConclaveConfigurationOptions to)
    {
        to.Endpoints = from.Endpoints;
        to.App = from.App;
        to.Environment = from.Environment;
        to.Namespaces = from.Namespaces;
        to.InstanceId = from.InstanceId;
        to.Labels = from.Labels;
        to.Optional = from.Optional;
        to.StartupTimeout = from.StartupTimeout;
        to.CacheDirectory = from.CacheDirectory;
        to.CachePath = from.CachePath;
        to.CacheKey = from.CacheKey;
        to.AccessKey = from.AccessKey;
        to.RetryBaseDelay = from.RetryBaseDelay;
        to.RetryMaxDelay = from.RetryMaxDelay;
        to.ReportDelivery = from.ReportDelivery;
        to.ReportSpread = from.ReportSpread;
        to.FlagUsageReportInterval = from.FlagUsageReportInterval;
        to.Client = from.Client;
        to.LoggerFactory = from.LoggerFactory;
        to.TimeProvider = from.TimeProvider;
    }
}

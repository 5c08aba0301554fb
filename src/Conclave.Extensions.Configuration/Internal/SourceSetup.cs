using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Turns <see cref="ConclaveConfigurationOptions"/> into what a provider runs with: checked settings (naming the one
/// that is wrong), the instance id, its own client, and the cache.
/// </summary>
internal static class SourceSetup
{
    public static string InstanceId(ConclaveConfigurationOptions options) =>
        options.InstanceId
        ?? System.Environment.GetEnvironmentVariable(ConclaveConfigurationOptions.InstanceIdEnvironmentVariable)
        ?? System.Environment.GetEnvironmentVariable("HOSTNAME")
        ?? System.Environment.MachineName;

    /// <summary>The option, else <c>CONCLAVE_ACCESS_KEY</c>; null when neither is set.</summary>
    public static string? AccessKey(ConclaveConfigurationOptions options) =>
        (options.AccessKey ?? System.Environment.GetEnvironmentVariable(ConclaveConfigurationOptions.AccessKeyEnvironmentVariable)) is { Length: > 0 } key
        && !string.IsNullOrWhiteSpace(key) ? key.Trim() : null;

    public static ConclaveClient CreateClient(ConclaveConfigurationOptions options, string instanceId) => new(new ConclaveClientOptions
    {
        Endpoints = [.. options.Endpoints],
        InstanceId = instanceId,

        // Two rounds over the endpoints, then the cache: a dead service costs start-up ~50 ms of back-off, not seconds.
        // The subscription's reconnects use the source's own (longer) delays.
        MaxAttempts = Math.Max(2, 2 * options.Endpoints.Count),
        DialTimeout = options.StartupTimeout < TimeSpan.FromSeconds(5) ? options.StartupTimeout : TimeSpan.FromSeconds(5),
        TimeProvider = options.TimeProvider,
        CaFile = options.CaFile,
        CertFile = options.CertFile,
        KeyFile = options.KeyFile,
    });

    /// <summary>The cache, or null (logged) when no key is configured: nothing is ever written in plain text.</summary>
    public static LastKnownGoodCache? CreateCache(ConclaveConfigurationOptions options, ILogger logger)
    {
        var keyText = options.CacheKey ?? System.Environment.GetEnvironmentVariable(ConclaveConfigurationOptions.CacheKeyEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(keyText))
        {
            Log.CacheOff(logger, options.App, options.Environment);
            return null;
        }

        var identity = $"{options.App}\n{options.Environment}\n{string.Join(',', options.Namespaces)}";
        var path = options.CachePath ?? Path.Combine(
            options.CacheDirectory ?? DefaultCacheDirectory(),
            LastKnownGoodCache.FileNameFor(identity, options.App, options.Environment));
        return new LastKnownGoodCache(path, LastKnownGoodCache.ParseKey(keyText), identity, options.TimeProvider);
    }

    public static string DefaultCacheDirectory()
    {
        var root = System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData);
        return Path.Combine(string.IsNullOrEmpty(root) ? Path.GetTempPath() : root, "conclave", "cache");
    }

    public static void Check(ConclaveConfigurationOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.App))
        {
            throw new ArgumentException("ConclaveConfigurationOptions.App is required (the app id in the configuration center).", nameof(options));
        }

        if (string.IsNullOrWhiteSpace(options.Environment))
        {
            throw new ArgumentException("ConclaveConfigurationOptions.Environment is required (e.g. PRO).", nameof(options));
        }

        if (options.Namespaces is null || options.Namespaces.Count == 0)
        {
            throw new ArgumentException("ConclaveConfigurationOptions.Namespaces must name at least one namespace.", nameof(options));
        }

        if (options.Client is null && (options.Endpoints is null || options.Endpoints.Count == 0))
        {
            throw new ArgumentException("ConclaveConfigurationOptions.Endpoints must name at least one endpoint.", nameof(options));
        }

        if (options.StartupTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.StartupTimeout, "ConclaveConfigurationOptions.StartupTimeout must be positive.");
        }
    }
}

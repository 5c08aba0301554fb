namespace Conclave.Extensions.Configuration.Internal;

/// <summary>Checks <see cref="ConclaveConfigurationOptions"/> up front, naming the setting that is wrong.</summary>
internal static class SourceOptionsCheck
{
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

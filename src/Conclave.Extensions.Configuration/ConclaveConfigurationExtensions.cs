using Conclave.Extensions.Configuration;

namespace Microsoft.Extensions.Configuration;

/// <summary><c>AddConclave</c>: adds a Conclave app's namespaces to the configuration, following changes live.</summary>
public static class ConclaveConfigurationExtensions
{
    /// <summary>
    /// Adds the namespaces of a Conclave app's environment as configuration keys. The first build loads them
    /// (bounded by <see cref="ConclaveConfigurationOptions.StartupTimeout"/>, last-known-good cache as fallback);
    /// afterwards each new effective release swaps the values and fires the reload token once.
    /// </summary>
    /// <param name="builder">The configuration builder (e.g. <c>builder.Configuration</c>).</param>
    /// <param name="configure">Sets endpoints, app, environment, namespaces, instance id and labels, cache and start-up options.</param>
    /// <returns>The builder.</returns>
    public static IConfigurationBuilder AddConclave(this IConfigurationBuilder builder, Action<ConclaveConfigurationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ConclaveConfigurationOptions();
        configure(options);
        return builder.Add(new ConclaveConfigurationSource(options));
    }

    /// <summary>
    /// Adds a Conclave source whose settings are read from <paramref name="section"/> (e.g. the <c>Conclave</c>
    /// section of appsettings.json or <c>Conclave__App</c> environment variables): <c>Endpoints</c> and
    /// <c>Namespaces</c> (arrays or comma-separated), <c>App</c>, <c>Environment</c>, <c>InstanceId</c>, <c>Labels</c>,
    /// <c>Optional</c>, <c>StartupTimeout</c>, <c>CacheDirectory</c>, <c>CachePath</c>, <c>CacheKey</c>,
    /// <c>RetryBaseDelay</c>, <c>RetryMaxDelay</c>, <c>ReportDelivery</c>, <c>ReportSpread</c>; then <paramref name="configure"/> may adjust them.
    /// </summary>
    /// <param name="builder">The configuration builder.</param>
    /// <param name="section">The section with the settings; read once, now.</param>
    /// <param name="configure">Adjusts the settings read (e.g. sets a logger factory).</param>
    /// <returns>The builder.</returns>
    public static IConfigurationBuilder AddConclave(this IConfigurationBuilder builder, IConfiguration section, Action<ConclaveConfigurationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.AddConclave(o =>
        {
            Conclave.Extensions.Configuration.Internal.SourceSettings.Read(section, o);
            configure?.Invoke(o);
        });
    }

    /// <summary>The Conclave providers of a configuration built with <c>AddConclave</c> (none for other configurations).</summary>
    /// <param name="configuration">The app's configuration (an <see cref="IConfigurationRoot"/>, e.g. <c>ConfigurationManager</c>).</param>
    /// <returns>The providers, in the order they were added.</returns>
    public static IEnumerable<ConclaveConfigurationProvider> GetConclaveProviders(this IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration is IConfigurationRoot root
            ? root.Providers.OfType<ConclaveConfigurationProvider>()
            : [];
    }
}

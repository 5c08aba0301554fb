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

using System.Diagnostics.CodeAnalysis;
using Conclave.Client;
using Conclave.Extensions.Configuration;
using Conclave.Extensions.Configuration.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Conclave client, its health check, and validation of releases before they are applied.</summary>
public static class ConclaveServiceCollectionExtensions
{
    /// <summary>The name of the health check <see cref="AddConclaveClient(IServiceCollection, IConfiguration, Func{ConclaveClientOptions, ConclaveClientOptions}?)"/> registers.</summary>
    public const string HealthCheckName = "conclave";

    /// <summary>
    /// Registers a singleton <see cref="ConclaveClient"/> (for KV, watches, locks, elections) with options read from
    /// <paramref name="section"/> (<c>Endpoints</c> as an array or a comma-separated list, <c>InstanceId</c>,
    /// <c>DialTimeout</c>, <c>RequestTimeout</c>, <c>MaxAttempts</c>, <c>RetryBaseDelay</c>, <c>RetryMaxDelay</c>,
    /// <c>KeepAliveInterval</c>, <c>KeepAliveTimeout</c>, <c>WatchBufferCapacity</c>), the host's logging, and the
    /// <see cref="ConclaveHealthCheck"/> named <see cref="HealthCheckName"/> (Degraded while running on cached configuration).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The configuration section with the client settings, e.g. <c>builder.Configuration.GetSection("Conclave")</c>.</param>
    /// <param name="configure">Adjusts the options read from the section.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddConclaveClient(this IServiceCollection services, IConfiguration section, Func<ConclaveClientOptions, ConclaveClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(section);
        return services.AddConclaveClient(sp =>
        {
            var options = ClientSettings.Read(section) with { LoggerFactory = sp.GetService<ILoggerFactory>() };
            return configure is null ? options : configure(options);
        });
    }

    /// <summary>Registers a singleton <see cref="ConclaveClient"/> built from options the factory returns, with the health check.</summary>
    /// <param name="services">The services.</param>
    /// <param name="optionsFactory">Builds the client options (the container is at hand for logging or other settings).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddConclaveClient(this IServiceCollection services, Func<IServiceProvider, ConclaveClientOptions> optionsFactory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(optionsFactory);
        services.TryAddSingleton(sp =>
        {
            var options = optionsFactory(sp);
            var client = new ConclaveClient(options);
            if (sp.GetService<ILoggerFactory>() is { } loggers)
            {
                Log.ClientCreated(loggers.CreateLogger<ConclaveClient>(), string.Join(", ", client.Endpoints), options.InstanceId);
            }

            return client;
        });
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            HealthCheckName,
            sp => new ConclaveHealthCheck(sp.GetRequiredService<IConfiguration>(), sp.GetService<ConclaveClient>()),
            HealthStatus.Degraded,
            ["conclave"]));
        services.AddConclaveFeatureFlags();
        return services;
    }

    /// <summary>
    /// Runs the app's health checks <paramref name="settle"/> after each release Conclave pushes is applied and reports
    /// the releases unhealthy when they fail (and applied again once they pass): a rollout plan on the center counts
    /// these reports and halts and rolls back past its unhealthy limit (<see cref="ConclaveReleaseHealthReporter"/>).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="settle">How long after applying a release the checks run (default 30 s).</param>
    /// <returns>The health checks builder, to add the app's checks.</returns>
    public static IHealthChecksBuilder AddConclaveReleaseHealthReports(this IServiceCollection services, TimeSpan? settle = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var checks = services.AddHealthChecks();
        services.AddHostedService(sp => new ConclaveReleaseHealthReporter(
            sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<HealthCheckService>(), settle, sp.GetService<ILogger<ConclaveReleaseHealthReporter>>()));
        return checks;
    }

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from <paramref name="sectionPath"/> (as <c>AddOptions().BindConfiguration()</c>
    /// does) and lets its validators veto Conclave releases: before a release is applied, the options are bound from
    /// the configuration the release would produce and run through every <c>IValidateOptions&lt;TOptions&gt;</c>
    /// (chain <c>.ValidateDataAnnotations()</c>, <c>.Validate(...)</c> on the returned builder). A refused release is
    /// not applied and is reported <c>rejected</c> with the validation message.
    /// </summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="sectionPath">The section, e.g. <c>Orders</c>.</param>
    /// <returns>The options builder, to add validation.</returns>
    [RequiresUnreferencedCode("Binds TOptions by reflection (ConfigurationBinder), as OptionsBuilder.BindConfiguration does.")]
    [RequiresDynamicCode("Binds TOptions by reflection (ConfigurationBinder), as OptionsBuilder.BindConfiguration does.")]
    public static OptionsBuilder<TOptions> AddConclaveOptions<TOptions>(this IServiceCollection services, string sectionPath)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        var builder = services.AddOptions<TOptions>().BindConfiguration(sectionPath);
        services.AddSingleton(new ConclaveOptionsRegistration(typeof(TOptions), sectionPath, (sp, configuration) =>
        {
            var candidate = new TOptions();
            configuration.GetSection(sectionPath).Bind(candidate);
            foreach (var validator in sp.GetServices<IValidateOptions<TOptions>>())
            {
                var result = validator.Validate(Options.Options.DefaultName, candidate);
                if (result.Failed)
                {
                    return result.FailureMessage;
                }
            }

            return null;
        }));
        services.AddConclaveValidation();
        return builder;
    }

    /// <summary>
    /// Makes the app's Conclave providers check each release with the options registered through
    /// <see cref="AddConclaveOptions{TOptions}"/> before applying it, and log through the host's logging. Takes effect
    /// when the host starts; the first load (before the host exists) is checked by <c>ValidateOnStart()</c> as usual.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddConclaveValidation(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<OptionsReleaseValidator>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConclaveProviderAttachment>());
        services.AddConclaveFeatureFlags();
        return services;
    }
}

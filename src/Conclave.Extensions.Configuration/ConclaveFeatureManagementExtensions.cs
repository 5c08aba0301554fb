using Conclave.Extensions.Configuration;
using Conclave.Extensions.Configuration.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.FeatureManagement;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Conclave flags for the typed API and for Microsoft.FeatureManagement.</summary>
public static class ConclaveFeatureManagementExtensions
{
    /// <summary>
    /// Registers <see cref="IConclaveFeatureFlags"/>: typed, in-process reads of the flags of the configuration's
    /// Conclave providers (the <see cref="Microsoft.Extensions.Configuration.IConfiguration"/> in the container).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddConclaveFeatureFlags(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ConclaveFeatureFlags>();
        services.TryAddSingleton<IConclaveFeatureFlags>(sp => sp.GetRequiredService<ConclaveFeatureFlags>());
        return services;
    }

    /// <summary>
    /// Makes Conclave flags answer <c>IFeatureManager.IsEnabledAsync</c>: registers the <c>Conclave</c> feature filter
    /// that every flag the provider writes under <c>feature_management:feature_flags</c> names, so the decision is the
    /// one <see cref="IConclaveFeatureFlags"/> makes (users, groups, attributes, windows, prerequisites, rollouts). The
    /// targeting context is the one passed to <c>IsEnabledAsync</c>, else the app's <c>ITargetingContextAccessor</c>.
    /// Usage: <c>services.AddFeatureManagement().AddConclaveFlags()</c>.
    /// </summary>
    /// <param name="builder">The feature management builder.</param>
    /// <returns>The builder.</returns>
    public static IFeatureManagementBuilder AddConclaveFlags(this IFeatureManagementBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddConclaveFeatureFlags();
        builder.AddFeatureFilter<ConclaveFeatureFilter>();
        builder.AddFeatureFilter<ConclaveContextualFeatureFilter>();
        return builder;
    }
}

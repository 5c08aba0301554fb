using Conclave.Flags;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// The <c>Conclave</c> client filter without an app context: the targeting context comes from the app's
/// <see cref="ITargetingContextAccessor"/> when one is registered, else the flag is evaluated for the instance.
/// Microsoft.FeatureManagement refuses a filter that implements both <see cref="IFeatureFilter"/> and
/// <see cref="IContextualFeatureFilter{TContext}"/> (<c>AddFeatureFilter</c> throws), so, as its own targeting filter
/// does, the contextual half is a second class with the same alias: <see cref="ConclaveContextualFeatureFilter"/>.
/// </summary>
[FilterAlias(ReleaseFlattener.FilterName)]
internal sealed class ConclaveFeatureFilter(ConclaveFeatureFlags flags, ITargetingContextAccessor? accessor = null) : IFeatureFilter
{
    public async Task<bool> EvaluateAsync(FeatureFilterEvaluationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var targeting = accessor is null ? null : await accessor.GetContextAsync().ConfigureAwait(false);
        return flags.IsOn(ConclaveFilterContext.Flag(context), ConclaveFilterContext.From(targeting));
    }
}

/// <summary>The <c>Conclave</c> client filter for <c>IsEnabledAsync(feature, targetingContext)</c>: the context passed decides.</summary>
[FilterAlias(ReleaseFlattener.FilterName)]
internal sealed class ConclaveContextualFeatureFilter(ConclaveFeatureFlags flags) : IContextualFeatureFilter<ITargetingContext>
{
    public Task<bool> EvaluateAsync(FeatureFilterEvaluationContext featureFilterContext, ITargetingContext appContext)
    {
        ArgumentNullException.ThrowIfNull(featureFilterContext);
        return Task.FromResult(flags.IsOn(ConclaveFilterContext.Flag(featureFilterContext), ConclaveFilterContext.From(appContext)));
    }
}

internal static class ConclaveFilterContext
{
    /// <summary>The flag the filter's <c>Flag</c> parameter names, else the feature's name.</summary>
    public static string Flag(FeatureFilterEvaluationContext context) =>
        context.Parameters?[ReleaseFlattener.FlagParameter] is { Length: > 0 } name ? name : context.FeatureName;

    /// <summary>UserId is the targeting key, Groups the groups; null (no targeting context) evaluates for the instance.</summary>
    public static FlagContext? From(ITargetingContext? targeting) => targeting is null
        ? null
        : new FlagContext { TargetingKey = targeting.UserId, Groups = targeting.Groups is null ? [] : [.. targeting.Groups] };
}

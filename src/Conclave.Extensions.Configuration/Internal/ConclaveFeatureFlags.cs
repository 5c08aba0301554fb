using System.Text.Json;
using Conclave.Flags;
using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// <see cref="IConclaveFeatureFlags"/> over the Conclave providers of the app's configuration: their live
/// <see cref="ConclaveConfigurationProvider.Flags"/> (merged in provider order when there are several), the first
/// provider's instance id, labels and clock.
/// </summary>
internal sealed class ConclaveFeatureFlags : IConclaveFeatureFlags, IDisposable
{
    private static readonly IReadOnlyDictionary<string, string> NoAttributes = new Dictionary<string, string>(0);

    private readonly ConclaveConfigurationProvider[] providers;
    private readonly string? instanceId;
    private readonly IReadOnlyDictionary<string, string> labels;
    private readonly TimeProvider? clock;
    private readonly FlagContext instanceContext;
    private FlagSet merged = FlagSet.Empty;

    public ConclaveFeatureFlags(IConfiguration configuration)
    {
        providers = [.. configuration.GetConclaveProviders()];
        if (providers.Length > 0)
        {
            var first = providers[0];
            instanceId = first.Target.InstanceId;
            labels = first.Target.Labels.Count == 0 ? NoAttributes : new Dictionary<string, string>(first.Target.Labels, StringComparer.Ordinal);

            // The system clock is what FlagSet uses for a context without a time: leave Now empty then (no copy per call).
            clock = ReferenceEquals(first.Options.TimeProvider, TimeProvider.System) ? null : first.Options.TimeProvider;
        }
        else
        {
            labels = NoAttributes;
        }

        instanceContext = new FlagContext { InstanceId = instanceId, Attributes = labels };
        if (providers.Length > 1)
        {
            merged = FlagSet.Merge(providers.Select(p => p.Flags));
        }

        foreach (var provider in providers)
        {
            provider.FlagsChanged += OnFlagsChanged;
        }
    }

    public event EventHandler<ConclaveFlagsChangedEventArgs>? Changed;

    public FlagSet Flags => providers.Length switch
    {
        0 => FlagSet.Empty,
        1 => providers[0].Flags,
        _ => Volatile.Read(ref merged),
    };

    public FlagContext Complete(FlagContext? context)
    {
        if (context is null)
        {
            return clock is null ? instanceContext : instanceContext with { Now = clock.GetUtcNow() };
        }

        var needsInstance = string.IsNullOrEmpty(context.InstanceId) && instanceId is not null;
        var needsLabels = labels.Count > 0;
        var needsTime = context.Now is null && clock is not null;
        if (!needsInstance && !needsLabels && !needsTime)
        {
            return context;
        }

        var attributes = context.Attributes;
        if (needsLabels)
        {
            if (attributes.Count == 0)
            {
                attributes = labels;
            }
            else
            {
                var both = new Dictionary<string, string>(labels, StringComparer.Ordinal);
                foreach (var (key, value) in context.Attributes)
                {
                    both[key] = value;
                }

                attributes = both;
            }
        }

        return context with
        {
            InstanceId = needsInstance ? instanceId : context.InstanceId,
            Attributes = attributes,
            Now = needsTime ? clock!.GetUtcNow() : context.Now,
        };
    }

    public ValueTask<FlagResult<bool>> GetBooleanAsync(string flag, bool defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = Flags;
        return new(Counted(set, FlagReader.GetBoolean(set, flag, defaultValue, Complete(context))));
    }

    public ValueTask<FlagResult<string>> GetStringAsync(string flag, string defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = Flags;
        return new(Counted(set, FlagReader.GetString(set, flag, defaultValue, Complete(context))));
    }

    public ValueTask<FlagResult<double>> GetDoubleAsync(string flag, double defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = Flags;
        return new(Counted(set, FlagReader.GetDouble(set, flag, defaultValue, Complete(context))));
    }

    public ValueTask<FlagResult<long>> GetIntegerAsync(string flag, long defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = Flags;
        return new(Counted(set, FlagReader.GetInteger(set, flag, defaultValue, Complete(context))));
    }

    public ValueTask<FlagResult<JsonElement>> GetJsonAsync(string flag, JsonElement defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = Flags;
        return new(Counted(set, FlagReader.GetJson(set, flag, defaultValue, Complete(context))));
    }

    /// <summary>
    /// Whether <paramref name="flag"/> is on for <paramref name="context"/>, as the Microsoft.FeatureManagement filter
    /// answers: a boolean flag when its value is true, any other flag when its variant is not its off variant; an
    /// error (a flag that is not there) is off.
    /// </summary>
    public bool IsOn(string flag, FlagContext? context)
    {
        var set = Flags;
        var decision = set.Evaluate(flag, Complete(context), out var value);
        if (decision.Variant is null || !set.Flags.TryGetValue(flag, out var definition))
        {
            return false;
        }

        CounterOf(definition)?.Count(definition, decision.Variant);

        return definition.Type == FlagType.Boolean
            ? value.ValueKind == JsonValueKind.True
            : !string.Equals(decision.Variant, definition.OffVariant, StringComparison.Ordinal);
    }

    private FlagResult<T> Counted<T>(FlagSet set, FlagResult<T> result)
    {
        if (result.Variant is { } variant && set.Flags.TryGetValue(result.Flag, out var definition))
        {
            CounterOf(definition)?.Count(definition, variant);
        }

        return result;
    }

    /// <summary>The counter of the provider whose flags hold <paramref name="definition"/> (its report carries the count).</summary>
    private FlagEvaluationCounter? CounterOf(FlagDefinition definition)
    {
        if (providers.Length == 1)
        {
            return providers[0].Evaluations;
        }

        foreach (var provider in providers)
        {
            if (provider.Flags.Flags.TryGetValue(definition.Name, out var own) && ReferenceEquals(own, definition))
            {
                return provider.Evaluations;
            }
        }

        return null;
    }

    public void Dispose()
    {
        foreach (var provider in providers)
        {
            provider.FlagsChanged -= OnFlagsChanged;
        }
    }

    private void OnFlagsChanged(object? sender, ConclaveFlagsChangedEventArgs e)
    {
        if (providers.Length > 1)
        {
            Volatile.Write(ref merged, FlagSet.Merge(providers.Select(p => p.Flags)));
        }

        Changed?.Invoke(this, e);
    }
}

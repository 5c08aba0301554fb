using System.Text.Json;
using Conclave.Flags;

namespace Conclave.Extensions.Configuration;

/// <summary>
/// Typed reads of the flags in the app's Conclave <c>flags</c> namespaces, with OpenFeature's evaluation semantics
/// (docs/feature-flags.md): a missing flag gives the caller's default with <see cref="FlagReason.Error"/> and
/// <see cref="FlagErrorCode.FlagNotFound"/>, a flag of another type <see cref="FlagErrorCode.TypeMismatch"/>. Evaluation
/// is in-process over the releases the member pushed: no network call, and the returned task has always completed.
/// The context's <see cref="FlagContext.InstanceId"/> (when not given) and the instance's labels (as attributes, under
/// the context's own) come from the provider's options, and its <see cref="FlagContext.Now"/> from the provider's
/// <see cref="ConclaveConfigurationOptions.TimeProvider"/>.
/// Registered by <c>AddConclaveFeatureFlags</c> (and by <c>AddConclaveClient</c>, <c>AddConclaveValidation</c>,
/// <c>AddConclaveOptions</c> and <c>AddConclaveFlags</c>).
/// </summary>
public interface IConclaveFeatureFlags
{
    /// <summary>Raised after a release added, removed or redefined flags; names them.</summary>
    event EventHandler<ConclaveFlagsChangedEventArgs>? Changed;

    /// <summary>The current flags: those of every Conclave provider of the configuration, merged in provider order.</summary>
    FlagSet Flags { get; }

    /// <summary>Fills in what the app knows: the instance id when the context has none, the labels as attributes, the time.</summary>
    /// <param name="context">The caller's context; null for none.</param>
    /// <returns>The context the evaluation uses.</returns>
    FlagContext Complete(FlagContext? context);

    /// <summary>Evaluates a boolean flag.</summary>
    /// <param name="flag">The flag's name.</param>
    /// <param name="defaultValue">Returned on error.</param>
    /// <param name="context">Who the flag is evaluated for; null for the instance.</param>
    /// <param name="cancellationToken">Checked before evaluating.</param>
    /// <returns>The value, variant, reason and error.</returns>
    ValueTask<FlagResult<bool>> GetBooleanAsync(string flag, bool defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default);

    /// <summary>Evaluates a string flag.</summary>
    /// <param name="flag">The flag's name.</param>
    /// <param name="defaultValue">Returned on error.</param>
    /// <param name="context">Who the flag is evaluated for; null for the instance.</param>
    /// <param name="cancellationToken">Checked before evaluating.</param>
    /// <returns>The value, variant, reason and error.</returns>
    ValueTask<FlagResult<string>> GetStringAsync(string flag, string defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default);

    /// <summary>Evaluates a number flag.</summary>
    /// <param name="flag">The flag's name.</param>
    /// <param name="defaultValue">Returned on error.</param>
    /// <param name="context">Who the flag is evaluated for; null for the instance.</param>
    /// <param name="cancellationToken">Checked before evaluating.</param>
    /// <returns>The value, variant, reason and error.</returns>
    ValueTask<FlagResult<double>> GetDoubleAsync(string flag, double defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default);

    /// <summary>Evaluates a number flag whose variant must be a whole number (else <see cref="FlagErrorCode.TypeMismatch"/>).</summary>
    /// <param name="flag">The flag's name.</param>
    /// <param name="defaultValue">Returned on error.</param>
    /// <param name="context">Who the flag is evaluated for; null for the instance.</param>
    /// <param name="cancellationToken">Checked before evaluating.</param>
    /// <returns>The value, variant, reason and error.</returns>
    ValueTask<FlagResult<long>> GetIntegerAsync(string flag, long defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default);

    /// <summary>Evaluates a json flag.</summary>
    /// <param name="flag">The flag's name.</param>
    /// <param name="defaultValue">Returned on error.</param>
    /// <param name="context">Who the flag is evaluated for; null for the instance.</param>
    /// <param name="cancellationToken">Checked before evaluating.</param>
    /// <returns>The value, variant, reason and error.</returns>
    ValueTask<FlagResult<JsonElement>> GetJsonAsync(string flag, JsonElement defaultValue, FlagContext? context = null, CancellationToken cancellationToken = default);
}

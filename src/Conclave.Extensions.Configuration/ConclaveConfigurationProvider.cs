using Conclave.Client;
using Conclave.Extensions.Configuration.Internal;
using Conclave.Flags;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Extensions.Configuration;

/// <summary>
/// Serves a Conclave app's namespaces as configuration keys and keeps them current: <see cref="Load"/> fetches the
/// effective releases (bounded by <see cref="ConclaveConfigurationOptions.StartupTimeout"/>, falling back to the
/// last-known-good cache), then a background subscription applies each new effective release by swapping the data
/// at once and signalling the reload token once, so <c>IOptionsMonitor&lt;T&gt;.OnChange</c> fires with the new
/// values. A release that a registered <see cref="IConclaveReleaseValidator"/> refuses is not applied and is
/// reported <c>rejected</c>; an applied one is reported <c>applied</c> and written to the cache.
/// </summary>
public sealed class ConclaveConfigurationProvider : ConfigurationProvider, IDisposable, IAsyncDisposable
{
    private readonly ConclaveClient client;
    private readonly bool ownsClient;
    private readonly LastKnownGoodCache? cache;
    private readonly DeliveryReporter reporter;
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();
    private ILogger logger;
    private Dictionary<string, ConfigRelease> applied = new(StringComparer.Ordinal);
    private MergedFlags flags = MergedFlags.Empty;
    private ConclaveConfigurationOrigin origin;
    private bool connected;
    private string? lastError;
    private string? lastRejection;
    private bool accessRefused;
    private IConclaveReleaseValidator? validator;
    private Task background = Task.CompletedTask;
    private int loaded;
    private int disposed;

    /// <summary>Creates the provider; nothing is fetched until <see cref="Load"/>.</summary>
    /// <param name="options">The provider's settings.</param>
    /// <exception cref="ArgumentException">A required setting is missing or invalid (the message names it).</exception>
    public ConclaveConfigurationProvider(ConclaveConfigurationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        SourceSetup.Check(options);
        Options = options;
        logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ConclaveConfigurationProvider>();
        var instanceId = SourceSetup.InstanceId(options);
        Target = new ConfigTarget
        {
            App = options.App,
            Environment = options.Environment,
            Namespaces = [.. options.Namespaces],
            InstanceId = instanceId,
            AccessKey = SourceSetup.AccessKey(options),
            Labels = new Dictionary<string, string>(options.Labels, StringComparer.Ordinal),
        };

        ownsClient = options.Client is null;
        client = options.Client ?? SourceSetup.CreateClient(options, instanceId);
        cache = SourceSetup.CreateCache(options, logger);
        reporter = new DeliveryReporter(client, Target, options, () => Volatile.Read(ref logger), Evaluations, () => Volatile.Read(ref flags));
    }

    /// <summary>Raised after a release was applied (data swapped, reload token fired), with the keys that changed.</summary>
    public event EventHandler<ConclaveConfigurationChangedEventArgs>? Changed;

    /// <summary>
    /// Raised after a release changed the definition of one or more flags (a flag added, removed or defined
    /// differently), after <see cref="Flags"/> and the configuration keys were swapped; names the flags.
    /// </summary>
    public event EventHandler<ConclaveFlagsChangedEventArgs>? FlagsChanged;

    /// <summary>The provider's settings.</summary>
    public ConclaveConfigurationOptions Options { get; }

    /// <summary>
    /// The flags of this provider's <c>flags</c> namespaces, merged in namespace order (a later namespace's flag replaces
    /// an earlier one of the same name); <see cref="FlagSet.Empty"/> without any. Swapped at once when a release is applied.
    /// </summary>
    public FlagSet Flags => Volatile.Read(ref flags).Set;

    /// <summary>The evaluation counts of this provider's flags, reported with its delivery reports.</summary>
    internal FlagEvaluationCounter Evaluations { get; } = new();

    /// <summary>App, environment, namespaces and the instance identity this provider asks for.</summary>
    public ConfigTarget Target { get; }

    /// <summary>The endpoints the provider's client uses.</summary>
    public IReadOnlyList<string> Endpoints => client.Endpoints;

    /// <summary>Path of the last-known-good cache file; null when the cache is off (no key).</summary>
    public string? CacheFilePath => cache?.Path;

    /// <summary>Where the current values came from, whether the subscription is connected, and the last problems.</summary>
    public ConclaveConfigurationStatus Status
    {
        get
        {
            lock (gate)
            {
                return new ConclaveConfigurationStatus(
                    origin,
                    connected,
                    applied.ToDictionary(p => p.Key, p => p.Value.ReleaseId, StringComparer.Ordinal),
                    lastError,
                    lastRejection) { AccessRefused = accessRefused };
            }
        }
    }

    /// <summary>
    /// Sets the validator that must accept a release before it is applied (null: apply every release).
    /// <c>AddConclaveValidation</c> / <c>AddConclaveOptions</c> call this when the host starts.
    /// </summary>
    /// <param name="releaseValidator">The validator.</param>
    public void UseValidator(IConclaveReleaseValidator? releaseValidator) => Volatile.Write(ref validator, releaseValidator);

    /// <summary>Logs through <paramref name="loggerFactory"/> from now on, unless the options named a factory already.</summary>
    /// <param name="loggerFactory">The host's logger factory.</param>
    public void UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (Options.LoggerFactory is null)
        {
            Volatile.Write(ref logger, loggerFactory.CreateLogger<ConclaveConfigurationProvider>());
        }
    }

    /// <summary>
    /// Loads the effective releases once, then follows changes in the background. Bounded by
    /// <see cref="ConclaveConfigurationOptions.StartupTimeout"/>: if the service does not answer in time the
    /// last-known-good cache is used; without one an optional source starts empty and a required one throws
    /// <see cref="ConclaveStartupException"/>. Later calls (<c>IConfigurationRoot.Reload()</c>) keep the current
    /// values: they are pushed, not polled.
    /// </summary>
    public override void Load()
    {
        if (Interlocked.Exchange(ref loaded, 1) == 1)
        {
            return;
        }

        // The one sync-over-async place (STYLE.md): IConfigurationProvider.Load is synchronous and runs inside the
        // app's start-up. Task.Run keeps a caller's synchronization context out; the wait is bounded by the timeout.
#pragma warning disable VSTHRD002 // the framework's synchronous entry point (docs/architecture.md, "Code habits the build enforces")
        Task.Run(LoadInitialAsync).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        background = Task.WhenAll(Task.Run(() => FollowAsync(stop.Token)), Task.Run(() => reporter.RunAsync(stop.Token)));
    }

    /// <inheritdoc />
    public override string ToString() => $"{nameof(ConclaveConfigurationProvider)} {Options.App}/{Options.Environment} ({string.Join(", ", Options.Namespaces)})";

    /// <summary>Stops the subscription (without waiting for it) and, if the provider created its client, closes it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        stop.Cancel();
        if (ownsClient)
        {
            _ = background.ContinueWith(_ => client.DisposeAsync().AsTask(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    /// <summary>Stops the subscription, waits for it to end and, if the provider created its client, closes it.</summary>
    /// <returns>A task that completes when everything is stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await background.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (ownsClient)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task LoadInitialAsync()
    {
        var startup = new StartupLoad(client, Target, Options, cache, Volatile.Read(ref logger));
        var outcome = await startup.RunAsync(stop.Token).ConfigureAwait(false);
        lock (gate)
        {
            lastError = outcome.Error;
        }

        if (outcome.Data is not null)
        {
            Install(outcome.Releases, outcome.Data, outcome.Flags, outcome.Origin);
        }
    }

    /// <summary>Start-up: nobody listens yet, so the data is set without a reload signal.</summary>
    private void Install(IReadOnlyList<ConfigRelease> releases, Dictionary<string, string?> data, MergedFlags loadedFlags, ConclaveConfigurationOrigin from)
    {
        var byNamespace = new Dictionary<string, ConfigRelease>(StringComparer.Ordinal);
        foreach (var release in releases)
        {
            byNamespace[release.Namespace] = release;
        }

        lock (gate)
        {
            applied = byNamespace;
            origin = from;
        }

        Volatile.Write(ref flags, loadedFlags);
        Data = data;
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        if (Status.Origin == ConclaveConfigurationOrigin.Server)
        {
            await SaveCacheAsync(cancellationToken).ConfigureAwait(false);
            ReportAllApplied();
        }

        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (Volatile.Read(ref accessRefused))
                {
                    // Refused before: ask once (a fetch checks the key like a subscription) before subscribing again,
                    // so the status does not flicker to "connected" on every attempt while the key stays refused.
                    await client.FetchConfigAsync(Target, cancellationToken).ConfigureAwait(false);
                    lock (gate)
                    {
                        accessRefused = false;
                    }

                    Log.AccessAccepted(logger, Options.App, Options.Environment);
                }

                Dictionary<string, long> lastSeen;
                lock (gate)
                {
                    lastSeen = applied.ToDictionary(p => p.Key, p => p.Value.ReleaseId, StringComparer.Ordinal);
                }

                var subscription = client.SubscribeConfigAsync(Target, new ConfigSubscribeOptions
                {
                    LastSeen = lastSeen,
                    ConnectionChanged = OnConnectionChanged,
                    ReconnectBaseDelay = Options.RetryBaseDelay,
                    ReconnectMaxDelay = Options.RetryMaxDelay,
                }, cancellationToken);
                await foreach (var release in subscription.ConfigureAwait(false))
                {
                    failures = 0;
                    await ApplyAsync(release, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not a lost connection (the client reconnects by itself) but a refusal, e.g. a namespace that does not exist yet.
                // A refused access key (revoked, unknown, another app's) changes nothing either: the last known good
                // values stay, the status says why, and the key is tried again with the same back-off.
                failures++;
                var refused = e is PermissionDeniedException;
                lock (gate)
                {
                    lastError = e.Message;
                    connected = false;
                    accessRefused = refused;
                }

                var delay = RetryDelay.For(failures, Options.RetryBaseDelay, Options.RetryMaxDelay);
                if (refused)
                {
                    Log.AccessRefused(logger, Options.App, Options.Environment, delay, e.Message);
                }
                else
                {
                    Log.SubscriptionFailed(logger, Options.App, Options.Environment, delay, e);
                }
                try
                {
                    await Task.Delay(delay, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void OnConnectionChanged(bool up)
    {
        var confirmCache = false;
        lock (gate)
        {
            connected = up;
            if (up)
            {
                lastError = null;

                // The server sends every namespace whose release differs from ours at once, so the cached values are
                // now the service's until it says otherwise.
                confirmCache = origin == ConclaveConfigurationOrigin.Cache;
                if (confirmCache)
                {
                    origin = ConclaveConfigurationOrigin.Server;
                }
            }
        }

        if (up)
        {
            Log.Connected(logger, Options.App, Options.Environment);
            if (confirmCache)
            {
                ReportAllApplied();
            }
        }
        else
        {
            Log.Disconnected(logger, Options.App, Options.Environment);
        }
    }

    /// <summary>Applies one release, or refuses it (kept last good, reported rejected). Internal for the tests of a release the member would refuse at publish.</summary>
    internal async Task ApplyAsync(ConfigRelease release, CancellationToken cancellationToken)
    {
        Dictionary<string, ConfigRelease> candidateReleases;
        lock (gate)
        {
            if (applied.TryGetValue(release.Namespace, out var current) && current.ReleaseId == release.ReleaseId && current.ContentHash == release.ContentHash)
            {
                return;
            }

            candidateReleases = new Dictionary<string, ConfigRelease>(applied, StringComparer.Ordinal) { [release.Namespace] = release };
        }

        string? rejection = null;
        Dictionary<string, string?>? candidate = null;
        var candidateFlags = MergedFlags.Empty;
        try
        {
            candidate = ReleaseFlattener.Merge(InOrder(candidateReleases), out candidateFlags);
        }
        catch (FormatException e)
        {
            rejection = e.Message;
        }

        if (candidate is not null && Volatile.Read(ref validator) is { } check)
        {
            try
            {
                rejection = check.Validate(this, candidate);
            }
            catch (Exception e)
            {
                rejection = $"the validator threw {e.GetType().Name}: {e.Message}";
            }
        }

        if (rejection is not null || candidate is null)
        {
            rejection ??= "rejected";
            lock (gate)
            {
                lastRejection = $"{release.Namespace}#{release.ReleaseId}: {rejection}";
            }

            Log.Rejected(logger, Options.App, Options.Environment, release.Namespace, release.ReleaseId, rejection);
            reporter.Enqueue(release, ConfigDeliveryStatus.Rejected, rejection);
            return;
        }

        var changed = KeyDiff.Changed(Data, candidate);
        lock (gate)
        {
            applied = candidateReleases;
            origin = ConclaveConfigurationOrigin.Server;
        }

        // The flags first: an IFeatureManager that sees the new keys evaluates with the new flags.
        var changedFlags = Volatile.Read(ref flags).ChangedIn(candidateFlags);
        Volatile.Write(ref flags, candidateFlags);
        Data = candidate;
        OnReload();
        Log.Applied(logger, Options.App, Options.Environment, release.Namespace, release.ReleaseId, release.IsGray ? " (gray)" : "", changed.Count);
        RaiseChanged(new ConclaveConfigurationChangedEventArgs([release], changed, ConclaveConfigurationOrigin.Server));
        if (changedFlags.Count > 0)
        {
            RaiseFlagsChanged(new ConclaveFlagsChangedEventArgs(changedFlags));
        }
        await SaveCacheAsync(cancellationToken).ConfigureAwait(false);
        reporter.Enqueue(release, ConfigDeliveryStatus.Applied, null);
    }

    private void RaiseChanged(ConclaveConfigurationChangedEventArgs args)
    {
        try
        {
            Changed?.Invoke(this, args);
        }
        catch (Exception e)
        {
            Log.ChangedHandlerFailed(logger, Options.App, Options.Environment, e);
        }
    }

    private void RaiseFlagsChanged(ConclaveFlagsChangedEventArgs args)
    {
        try
        {
            FlagsChanged?.Invoke(this, args);
        }
        catch (Exception e)
        {
            Log.ChangedHandlerFailed(logger, Options.App, Options.Environment, e);
        }
    }

    private async Task SaveCacheAsync(CancellationToken cancellationToken)
    {
        if (cache is null)
        {
            return;
        }

        ConfigRelease[] releases;
        lock (gate)
        {
            releases = [.. InOrder(applied)];
        }

        try
        {
            await cache.SaveAsync(releases, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CacheWriteFailed(logger, cache.Path, e);
        }
    }

    /// <summary>
    /// Reports the releases this instance runs as <see cref="ConfigDeliveryStatus.Unhealthy"/> (<paramref name="unhealthy"/>)
    /// or applied again: what <c>AddConclaveReleaseHealthReports</c> does with the app's health checks after a release is
    /// applied, so a rollout plan halts and rolls back when the new configuration makes instances unhealthy.
    /// </summary>
    /// <param name="unhealthy">Whether the app is unhealthy.</param>
    /// <param name="reason">What failed (sent with an unhealthy report, at most a few hundred characters).</param>
    public void ReportHealth(bool unhealthy, string? reason = null)
    {
        lock (gate)
        {
            foreach (var release in applied.Values)
            {
                reporter.Enqueue(release, unhealthy ? ConfigDeliveryStatus.Unhealthy : ConfigDeliveryStatus.Applied, unhealthy ? reason : null);
            }
        }
    }

    private void ReportAllApplied()
    {
        lock (gate)
        {
            foreach (var release in applied.Values)
            {
                reporter.Enqueue(release, ConfigDeliveryStatus.Applied, null);
            }
        }
    }

    private IEnumerable<ConfigRelease> InOrder(IReadOnlyDictionary<string, ConfigRelease> byNamespace)
    {
        foreach (var ns in Target.Namespaces)
        {
            if (byNamespace.TryGetValue(ns, out var release))
            {
                yield return release;
            }
        }
    }
}

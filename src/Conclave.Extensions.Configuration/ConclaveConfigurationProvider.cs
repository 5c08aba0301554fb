using Conclave.Client;
using Conclave.Extensions.Configuration.Internal;
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
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();
    private ILogger logger;
    private Dictionary<string, ConfigRelease> applied = new(StringComparer.Ordinal);
    private ConclaveConfigurationOrigin origin;
    private bool connected;
    private string? lastError;
    private string? lastRejection;
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
        SourceOptionsCheck.Check(options);
        Options = options;
        logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ConclaveConfigurationProvider>();
        var instanceId = options.InstanceId
            ?? System.Environment.GetEnvironmentVariable(ConclaveConfigurationOptions.InstanceIdEnvironmentVariable)
            ?? System.Environment.GetEnvironmentVariable("HOSTNAME")
            ?? System.Environment.MachineName;
        Target = new ConfigTarget
        {
            App = options.App,
            Environment = options.Environment,
            Namespaces = [.. options.Namespaces],
            InstanceId = instanceId,
            Labels = new Dictionary<string, string>(options.Labels, StringComparer.Ordinal),
        };

        ownsClient = options.Client is null;
        client = options.Client ?? new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = [.. options.Endpoints],
            InstanceId = instanceId,

            // Two rounds over the endpoints, then the cache: a dead service costs start-up ~50 ms of back-off, not seconds.
            MaxAttempts = Math.Max(2, 2 * options.Endpoints.Count),
            DialTimeout = options.StartupTimeout < TimeSpan.FromSeconds(5) ? options.StartupTimeout : TimeSpan.FromSeconds(5),
            TimeProvider = options.TimeProvider,
        });

        var keyText = options.CacheKey ?? System.Environment.GetEnvironmentVariable(ConclaveConfigurationOptions.CacheKeyEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(keyText))
        {
            Log.CacheOff(logger, options.App, options.Environment);
        }
        else
        {
            var identity = $"{options.App}\n{options.Environment}\n{string.Join(',', options.Namespaces)}";
            var path = options.CachePath ?? Path.Combine(
                options.CacheDirectory ?? SourceOptionsCheck.DefaultCacheDirectory(),
                LastKnownGoodCache.FileNameFor(identity, options.App, options.Environment));
            cache = new LastKnownGoodCache(path, LastKnownGoodCache.ParseKey(keyText), identity, options.TimeProvider);
        }
    }

    /// <summary>Raised after a release was applied (data swapped, reload token fired), with the keys that changed.</summary>
    public event EventHandler<ConclaveConfigurationChangedEventArgs>? Changed;

    /// <summary>The provider's settings.</summary>
    public ConclaveConfigurationOptions Options { get; }

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
                    lastRejection);
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
        Task.Run(LoadInitialAsync).GetAwaiter().GetResult();
        background = Task.Run(() => FollowAsync(stop.Token));
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
        using var timeout = new CancellationTokenSource(Options.StartupTimeout, Options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stop.Token);
        Exception failure;
        try
        {
            var releases = await client.FetchConfigAsync(Target, linked.Token).ConfigureAwait(false);
            Install(releases, ConclaveConfigurationOrigin.Server);
            Log.LoadedFromServer(logger, Options.App, Options.Environment, string.Join(",", Options.Namespaces), string.Join(",", client.Endpoints), Describe(releases));
            return;
        }
        catch (ConfigNotFoundException e) when (!Options.Optional)
        {
            // The app, environment or a namespace does not exist: a configuration mistake, not an outage.
            throw new ConclaveStartupException(
                $"Conclave configuration {Options.App}/{Options.Environment} ({string.Join(", ", Options.Namespaces)}) does not exist on {string.Join(", ", client.Endpoints)}: {e.ServerMessage}",
                client.Endpoints,
                e);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            failure = new TimeoutException($"no answer within the start-up timeout of {Options.StartupTimeout.TotalSeconds:0.###} s", e);
        }
        catch (Exception e) when (e is ConclaveException or FormatException)
        {
            failure = e;
        }

        lock (gate)
        {
            lastError = failure.Message;
        }

        if (TryLoadCache(failure))
        {
            return;
        }

        if (Options.Optional)
        {
            Log.StartedEmpty(logger, Options.App, Options.Environment, failure.Message);
            return;
        }

        var cacheNote = cache is null
            ? "the last-known-good cache is off (no CacheKey / CONCLAVE_CACHE_KEY)"
            : $"there is no usable last-known-good cache at {cache.Path}";
        throw new ConclaveStartupException(
            $"Conclave configuration {Options.App}/{Options.Environment} ({string.Join(", ", Options.Namespaces)}) could not be loaded from {string.Join(", ", client.Endpoints)}: {failure.Message}; {cacheNote}. Set Optional = true to start without it.",
            client.Endpoints,
            failure);
    }

    private bool TryLoadCache(Exception failure)
    {
        if (cache is null)
        {
            return false;
        }

        try
        {
            var document = cache.Load();
            if (document is null)
            {
                return false;
            }

            Install(document.Releases, ConclaveConfigurationOrigin.Cache);
            Log.LoadedFromCache(logger, Options.App, Options.Environment, failure.Message, cache.Path, document.SavedAt, Describe(document.Releases));
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
        {
            Log.CacheRejected(logger, cache.Path, e.Message);
            return false;
        }
    }

    /// <summary>Start-up: nobody listens yet, so the data is set without a reload signal.</summary>
    private void Install(IEnumerable<ConfigRelease> releases, ConclaveConfigurationOrigin from)
    {
        var byNamespace = new Dictionary<string, ConfigRelease>(StringComparer.Ordinal);
        foreach (var release in releases)
        {
            byNamespace[release.Namespace] = release;
        }

        var data = ReleaseFlattener.Merge(InOrder(byNamespace));
        lock (gate)
        {
            applied = byNamespace;
            origin = from;
        }

        Data = data;
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        if (Status.Origin == ConclaveConfigurationOrigin.Server)
        {
            await SaveCacheAsync(cancellationToken).ConfigureAwait(false);
            await ReportAllAppliedAsync(cancellationToken).ConfigureAwait(false);
        }

        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
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
                failures++;
                lock (gate)
                {
                    lastError = e.Message;
                    connected = false;
                }

                var delay = RetryDelay.For(failures, Options.RetryBaseDelay, Options.RetryMaxDelay);
                Log.SubscriptionFailed(logger, Options.App, Options.Environment, delay, e);
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
                _ = ReportAllAppliedAsync(stop.Token);
            }
        }
        else
        {
            Log.Disconnected(logger, Options.App, Options.Environment);
        }
    }

    private async Task ApplyAsync(ConfigRelease release, CancellationToken cancellationToken)
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
        try
        {
            candidate = ReleaseFlattener.Merge(InOrder(candidateReleases));
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
            await ReportAsync(release, ConfigDeliveryStatus.Rejected, rejection, cancellationToken).ConfigureAwait(false);
            return;
        }

        var changed = KeyDiff.Changed(Data, candidate);
        lock (gate)
        {
            applied = candidateReleases;
            origin = ConclaveConfigurationOrigin.Server;
        }

        Data = candidate;
        OnReload();
        Log.Applied(logger, Options.App, Options.Environment, release.Namespace, release.ReleaseId, release.IsGray ? " (gray)" : "", changed.Count);
        RaiseChanged(new ConclaveConfigurationChangedEventArgs([release], changed, ConclaveConfigurationOrigin.Server));
        await SaveCacheAsync(cancellationToken).ConfigureAwait(false);
        await ReportAsync(release, ConfigDeliveryStatus.Applied, null, cancellationToken).ConfigureAwait(false);
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

    private async Task ReportAllAppliedAsync(CancellationToken cancellationToken)
    {
        ConfigRelease[] releases;
        lock (gate)
        {
            releases = [.. applied.Values];
        }

        foreach (var release in releases)
        {
            await ReportAsync(release, ConfigDeliveryStatus.Applied, null, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(ConfigRelease release, ConfigDeliveryStatus status, string? reason, CancellationToken cancellationToken)
    {
        if (!Options.ReportDelivery)
        {
            return;
        }

        try
        {
            await client.ReportConfigAsync(Target, release.Namespace, release.ReleaseId, status, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConclaveException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // Delivery tracking is best effort: the next report (or the lease running out) corrects it.
            Log.ReportFailed(logger, Options.App, Options.Environment, release.Namespace, release.ReleaseId, e);
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

    private static string Describe(IEnumerable<ConfigRelease> releases) =>
        string.Join(", ", releases.Select(r => $"{r.Namespace}#{r.ReleaseId}{(r.IsGray ? " gray" : "")}"));
}

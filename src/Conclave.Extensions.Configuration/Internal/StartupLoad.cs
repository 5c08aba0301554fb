using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// The bounded first load: the service within the start-up timeout, else the last-known-good cache, else empty
/// (optional source) or <see cref="ConclaveStartupException"/> naming the endpoints, the failure and the cache.
/// </summary>
internal sealed class StartupLoad(ConclaveClient client, ConfigTarget target, ConclaveConfigurationOptions options, LastKnownGoodCache? cache, ILogger logger)
{
    /// <summary>What the first load produced. <see cref="Data"/> is null when the source starts empty.</summary>
    public sealed record Outcome(IReadOnlyList<ConfigRelease> Releases, Dictionary<string, string?>? Data, ConclaveConfigurationOrigin Origin, string? Error)
    {
        /// <summary>The merged flags of the flags namespaces loaded.</summary>
        public MergedFlags Flags { get; init; } = MergedFlags.Empty;
    }

    public async Task<Outcome> RunAsync(CancellationToken stop)
    {
        using var timeout = new CancellationTokenSource(options.StartupTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stop);
        Exception failure;
        try
        {
            var releases = await client.FetchConfigAsync(target, linked.Token).ConfigureAwait(false);
            var data = ReleaseFlattener.Merge(InOrder(releases), out var flags);
            Log.LoadedFromServer(logger, options.App, options.Environment, string.Join(",", options.Namespaces), string.Join(",", client.Endpoints), Describe(releases));
            return new Outcome(releases, data, ConclaveConfigurationOrigin.Server, null) { Flags = flags };
        }
        catch (ConfigNotFoundException e) when (!options.Optional)
        {
            // The app, environment or a namespace does not exist: a configuration mistake, not an outage.
            throw new ConclaveStartupException(
                $"Conclave configuration {Name()} does not exist on {string.Join(", ", client.Endpoints)}: {e.ServerMessage}",
                client.Endpoints,
                e);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            failure = new TimeoutException($"no answer within the start-up timeout of {options.StartupTimeout.TotalSeconds:0.###} s", e);
        }
        catch (Exception e) when (e is ConclaveException or FormatException)
        {
            failure = e;
        }

        if (TryCache(failure) is { } cached)
        {
            return cached;
        }

        if (options.Optional)
        {
            Log.StartedEmpty(logger, options.App, options.Environment, failure.Message);
            return new Outcome([], null, ConclaveConfigurationOrigin.None, failure.Message);
        }

        var cacheNote = cache is null
            ? "the last-known-good cache is off (no CacheKey / CONCLAVE_CACHE_KEY)"
            : $"there is no usable last-known-good cache at {cache.Path}";
        throw new ConclaveStartupException(
            $"Conclave configuration {Name()} could not be loaded from {string.Join(", ", client.Endpoints)}: {failure.Message}; {cacheNote}. Set Optional = true to start without it.",
            client.Endpoints,
            failure);
    }

    private Outcome? TryCache(Exception failure)
    {
        if (cache is null)
        {
            return null;
        }

        try
        {
            var document = cache.Load();
            if (document is null)
            {
                return null;
            }

            var data = ReleaseFlattener.Merge(InOrder(document.Releases), out var flags);
            Log.LoadedFromCache(logger, options.App, options.Environment, failure.Message, cache.Path, document.SavedAt, Describe(document.Releases));
            return new Outcome(document.Releases, data, ConclaveConfigurationOrigin.Cache, failure.Message) { Flags = flags };
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
        {
            Log.CacheRejected(logger, cache.Path, e.Message);
            return null;
        }
    }

    private IEnumerable<ConfigRelease> InOrder(IReadOnlyList<ConfigRelease> releases) =>
        target.Namespaces.Select(ns => releases.LastOrDefault(r => r.Namespace == ns)).OfType<ConfigRelease>();

    private string Name() => $"{options.App}/{options.Environment} ({string.Join(", ", options.Namespaces)})";

    private static string Describe(IEnumerable<ConfigRelease> releases) =>
        string.Join(", ", releases.Select(r => $"{r.Namespace}#{r.ReleaseId}{(r.IsGray ? " gray" : "")}"));
}

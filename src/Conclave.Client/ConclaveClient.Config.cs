using System.Runtime.CompilerServices;
using Conclave.Api.Config.V1;
using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client;

// The configuration center's client protocol (conclave.config.v1): fetch, resuming subscription, delivery reports.
public sealed partial class ConclaveClient
{
    /// <summary>
    /// Reads the release each namespace of <paramref name="target"/> should run on this instance (gray rules are
    /// resolved by the server). A namespace with nothing released yet is left out of the result. Retried across
    /// endpoints like any read.
    /// </summary>
    /// <param name="target">App, environment, namespaces and instance identity.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One release per namespace that has one, in the order of <see cref="ConfigTarget.Namespaces"/>.</returns>
    /// <exception cref="ConfigNotFoundException">The app, environment or a namespace does not exist.</exception>
    /// <exception cref="EndpointUnavailableException">No endpoint answered.</exception>
    public async ValueTask<IReadOnlyList<ConfigRelease>> FetchConfigAsync(ConfigTarget target, CancellationToken cancellationToken = default)
    {
        CheckTarget(target);
        try
        {
            var response = await FetchOnceAsync(target, target.Namespaces, cancellationToken).ConfigureAwait(false);
            return [.. response.Releases.Select(ConfigRelease.From)];
        }
        catch (ConfigNotFoundException e) when (e.IsNoRelease && target.Namespaces.Count > 1)
        {
            // The server answers NoRelease for the whole request; ask namespace by namespace to keep the released ones.
        }

        var releases = new List<ConfigRelease>(target.Namespaces.Count);
        foreach (var ns in target.Namespaces)
        {
            try
            {
                var response = await FetchOnceAsync(target, [ns], cancellationToken).ConfigureAwait(false);
                releases.AddRange(response.Releases.Select(ConfigRelease.From));
            }
            catch (ConfigNotFoundException e) when (e.IsNoRelease)
            {
            }
        }

        return releases;
    }

    /// <summary>
    /// Streams the effective release of each namespace of <paramref name="target"/> whenever it changes (publish,
    /// rollback, gray rule, promote, abandon). The stream survives member restarts and failures: it reconnects with
    /// jittered back-off through the client's endpoint selection and resumes from the last release it handed over
    /// per namespace, so a release published while disconnected is delivered after the reconnect and none is
    /// skipped or repeated (the newest effective release is what is delivered; intermediate ones superseded while
    /// disconnected are not replayed).
    /// </summary>
    /// <param name="target">App, environment, namespaces and instance identity.</param>
    /// <param name="options">The releases the caller already runs, and a connection-state callback.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>Releases as they become effective for this instance.</returns>
    /// <exception cref="ConfigNotFoundException">The app, environment or a namespace does not exist.</exception>
    public async IAsyncEnumerable<ConfigRelease> SubscribeConfigAsync(
        ConfigTarget target,
        ConfigSubscribeOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckTarget(target);
        options ??= new ConfigSubscribeOptions();
        var lastSeen = new Dictionary<string, long>(options.LastSeen, StringComparer.Ordinal);
        var failures = 0;
        var connected = false;
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var endpoint = _endpoints.Current;
            var (call, openError) = await OpenSubscriptionAsync(endpoint, target, lastSeen, cancellationToken).ConfigureAwait(false);
            if (call is not null)
            {
                using (call)
                {
                    if (!connected)
                    {
                        connected = true;
                        options.ConnectionChanged?.Invoke(true);
                    }

                    failures = 0;
                    while (true)
                    {
                        var (next, error) = await NextReleaseAsync(call, cancellationToken).ConfigureAwait(false);
                        if (error is not null)
                        {
                            openError = error;
                            break;
                        }

                        if (next is null)
                        {
                            // The member ended the stream (it is stopping): resume elsewhere or after its restart.
                            break;
                        }

                        var release = ConfigRelease.From(next);
                        lastSeen[release.Namespace] = release.ReleaseId;
                        yield return release;
                    }
                }
            }

            if (openError is not null && !RpcErrorMap.IsTransient(openError))
            {
                throw ConfigErrorMap.ToException(openError, endpoint.Address);
            }

            if (connected)
            {
                connected = false;
                options.ConnectionChanged?.Invoke(false);
            }

            _endpoints.ReportFailure(endpoint);
            failures++;
            var delay = Backoff.Delay(failures, options.ReconnectBaseDelay ?? Options.RetryBaseDelay, options.ReconnectMaxDelay ?? Options.RetryMaxDelay);
            await Task.Delay(delay, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Tells the configuration center that this instance applied (or rejected) a release of one namespace. The
    /// record lives while reports keep coming (it is leased). Safe to repeat.
    /// </summary>
    /// <param name="target">App, environment and instance identity (the namespaces are not used).</param>
    /// <param name="ns">The namespace the release belongs to.</param>
    /// <param name="releaseId">The release id.</param>
    /// <param name="status">Applied or rejected.</param>
    /// <param name="reason">Why it was rejected (shown in the convergence query); at most 1,024 characters are kept.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the report is recorded.</returns>
    public ValueTask ReportConfigAsync(ConfigTarget target, string ns, long releaseId, ConfigDeliveryStatus status, string? reason = null, CancellationToken cancellationToken = default) =>
        ReportConfigAsync(target, ns, releaseId, status, reason, [], cancellationToken);

    /// <summary>
    /// Reports what this instance did with a release and, for a flags namespace, how often it served each flag's
    /// variants (docs/feature-flags.md, "Evaluation insight"): the member keeps the totals with the instance's record and
    /// marks flags with recent evaluations as used today. At most 4,096 entries.
    /// </summary>
    public async ValueTask ReportConfigAsync(ConfigTarget target, string ns, long releaseId, ConfigDeliveryStatus status, string? reason, IReadOnlyList<FlagEvaluationCount> flagEvaluations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentNullException.ThrowIfNull(flagEvaluations);
        var request = new ReportRequest
        {
            App = target.App,
            Env = target.Environment,
            Namespace = ns,
            Instance = Identity(target),
            ReleaseId = releaseId,
            Status = status switch
            {
                ConfigDeliveryStatus.Rejected => DeliveryStatus.Rejected,
                ConfigDeliveryStatus.Unhealthy => DeliveryStatus.Unhealthy,
                _ => DeliveryStatus.Applied,
            },
            Reason = reason ?? string.Empty,
        };
        foreach (var e in flagEvaluations)
        {
            request.FlagEvaluations.Add(new Api.Config.V1.FlagEvaluationCount { Flag = e.Flag, Variant = e.Variant, Total = e.Total, Recent = e.Recent });
        }

        try
        {
            // The record is keyed by instance and overwritten, so repeating a report is harmless.
            await InvokeAsync(request, static (e, r, o) => new ConfigService.ConfigServiceClient(e.Channel).ReportAsync(r, o), idempotent: true, cancellationToken, headers: ConfigHeaders(target)).ConfigureAwait(false);
        }
        catch (ConclaveException e)
        {
            throw ConfigErrorMap.Refine(e);
        }
    }

    private async ValueTask<FetchResponse> FetchOnceAsync(ConfigTarget target, IEnumerable<string> namespaces, CancellationToken cancellationToken)
    {
        var request = new FetchRequest { App = target.App, Env = target.Environment, Instance = Identity(target) };
        request.Namespaces.AddRange(namespaces);
        try
        {
            var (response, _) = await InvokeAsync(request, static (e, r, o) => new ConfigService.ConfigServiceClient(e.Channel).FetchAsync(r, o), idempotent: true, cancellationToken, headers: ConfigHeaders(target)).ConfigureAwait(false);
            return response;
        }
        catch (ConclaveException e)
        {
            throw ConfigErrorMap.Refine(e);
        }
    }

    /// <summary>
    /// Opens a subscription on one member. The server sends nothing until there is something to send, so a unary
    /// status call first proves the member is there; that is what <see cref="ConfigSubscribeOptions.ConnectionChanged"/> reports.
    /// </summary>
    private async ValueTask<(AsyncServerStreamingCall<Release>? Call, RpcException? Error)> OpenSubscriptionAsync(
        Internal.ClientEndpoint endpoint, ConfigTarget target, Dictionary<string, long> lastSeen, CancellationToken cancellationToken)
    {
        try
        {
            using (var probe = endpoint.Maintenance.StatusAsync(new Api.Etcd.StatusRequest(), CallOptionsFor(cancellationToken)))
            {
                await probe.ResponseAsync.ConfigureAwait(false);
            }

            var request = new SubscribeRequest { App = target.App, Env = target.Environment, Instance = Identity(target) };
            request.Namespaces.AddRange(target.Namespaces);
            request.LastSeen.Add(lastSeen);
            var service = new ConfigService.ConfigServiceClient(endpoint.Channel);
            return (service.Subscribe(request, new CallOptions(ConfigHeaders(target), deadline: null, cancellationToken)), null);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The subscription was canceled.", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            return (null, ex);
        }
    }

    private static async ValueTask<(Release? Next, RpcException? Error)> NextReleaseAsync(AsyncServerStreamingCall<Release> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false)
                ? (call.ResponseStream.Current, null)
                : (null, null);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The subscription was canceled.", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            return (null, ex);
        }
    }

    /// <summary>Environment variable read for the access key when neither the target nor the options name one.</summary>
    public const string AccessKeyEnvironmentVariable = "CONCLAVE_ACCESS_KEY";

    /// <summary>The metadata of a configuration call: the client's own, plus the target's access key if there is one.</summary>
    private Metadata? ConfigHeaders(ConfigTarget target)
    {
        var key = AccessKeyOf(target);
        if (key is null)
        {
            return _headers;
        }

        var headers = new Metadata();
        foreach (var entry in _headers ?? [])
        {
            headers.Add(entry);
        }

        headers.Add(AccessKeyMetadata, key);
        return headers;
    }

    private string? AccessKeyOf(ConfigTarget target)
    {
        var key = target.AccessKey ?? Options.AccessKey ?? Environment.GetEnvironmentVariable(AccessKeyEnvironmentVariable);
        return string.IsNullOrWhiteSpace(key) ? null : key.Trim();
    }

    private const string AccessKeyMetadata = "conclave-access-key";

    private InstanceIdentity Identity(ConfigTarget target)
    {
        var identity = new InstanceIdentity { InstanceId = target.InstanceId ?? Options.InstanceId ?? string.Empty };
        foreach (var (key, value) in target.Labels)
        {
            identity.Labels.Add($"{key}={value}");
        }

        return identity;
    }

    private static void CheckTarget(ConfigTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(target.App, "target.App");
        ArgumentException.ThrowIfNullOrEmpty(target.Environment, "target.Environment");
        if (target.Namespaces is null || target.Namespaces.Count == 0)
        {
            throw new ArgumentException("ConfigTarget.Namespaces must name at least one namespace.", nameof(target));
        }

        if (target.AccessKey is { } key && key.Any(c => c is < '!' or > '~'))
        {
            throw new ArgumentException("ConfigTarget.AccessKey must be the {id}.{secret} text 'conclave config credentials create' printed (printable ASCII).", nameof(target));
        }
    }
}

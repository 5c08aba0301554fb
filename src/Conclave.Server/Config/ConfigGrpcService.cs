using Conclave.Api.Config.V1;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using ReleaseMessage = Conclave.Api.Config.V1.Release;

namespace Conclave.Server.Config;

/// <summary>
/// <c>conclave.config.v1.ConfigService</c>: what configuration clients call. <c>Fetch</c>, <c>Subscribe</c> and
/// <c>Report</c> pass <see cref="CredentialService.AuthorizeAsync"/> first (ADR 0015 decision 5): the caller's
/// <c>conclave-access-key</c> metadata (or <c>authorization: ConclaveKey ...</c>), else its sign-in. Bound by
/// <see cref="ConfigServiceMethods"/> (Subscribe writes releases serialized once, <see cref="ReleaseEncodings"/>).
/// </summary>
internal sealed class ConfigGrpcService(DeliveryService delivery, CredentialService credentials, ClientCallers callers, ReleaseEncodings encodings, IHostApplicationLifetime lifetime)
{
    public async Task<FetchResponse> FetchAsync(FetchRequest request, ServerCallContext context)
    {
        var access = await GuardAsync(async () => await credentials.AuthorizeAsync(callers.Of(context), request.App, request.Env, request.Namespaces, context.CancellationToken));
        var response = new FetchResponse();
        foreach (var ns in request.Namespaces)
        {
            var effective = await GuardAsync(async () =>
            {
                var e = await delivery.FetchAsync(request.App, request.Env, ns, request.Instance?.InstanceId, request.Instance?.Labels ?? [], context.CancellationToken);
                await AuthorizeSecretsAsync(access, e, context.CancellationToken);
                return e;
            });
            response.Releases.Add(ToMessage(effective));
        }

        return response;
    }

    public async Task SubscribeAsync(SubscribeRequest request, IServerStreamWriter<EncodedRelease> responseStream, ServerCallContext context)
    {
        var access = await GuardAsync(async () => await credentials.AuthorizeAsync(callers.Of(context), request.App, request.Env, request.Namespaces, context.CancellationToken));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var revoked = false;
        var revocation = access.Credential is null ? Task.CompletedTask : EndOnRevocationAsync();
        var stream = delivery.SubscribeAsync(request.App, request.Env, request.Namespaces, request.Instance?.InstanceId, request.Instance?.Labels ?? [], request.LastSeen, linked.Token);
        try
        {
            await foreach (var effective in stream)
            {
                await AuthorizeSecretsAsync(access, effective, linked.Token);
                await responseStream.WriteAsync(encodings.Of(effective), linked.Token);
            }
        }
        catch (ConfigCenterException e)
        {
            throw ConfigErrors.ToRpc(e);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // The client left, the member is stopping, or the credential was revoked (below).
        }
        finally
        {
            await linked.CancelAsync();
            await revocation;
        }

        if (Volatile.Read(ref revoked))
        {
            var c = access.Credential!;
            throw ConfigErrors.ToRpc(new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"access key '{c.Id}' of {c.App}/{c.Env} was revoked: the subscription ends"));
        }

        // A revoked credential ends the stream within the time its revocation takes to be applied here (one watch event).
        async Task EndOnRevocationAsync()
        {
            try
            {
                await credentials.WaitForRevocationAsync(access, linked.Token);
                Volatile.Write(ref revoked, true);
                await linked.CancelAsync();
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
            }
        }
    }

    // Checked per release, not per namespace: a namespace gains secrets with a publish.
    private ValueTask AuthorizeSecretsAsync(ClientAccess access, EffectiveRelease effective, CancellationToken cancellationToken) =>
        Conclave.ConfigCenter.Secrets.NamespaceSecrets.HasSecrets(effective.Release)
            ? credentials.AuthorizeSecretsAsync(access, effective.Release.App, effective.Release.Env, effective.Release.Namespace, cancellationToken)
            : ValueTask.CompletedTask;

    public Task<ReportResponse> ReportAsync(ReportRequest request, ServerCallContext context) =>
        GuardAsync(async () =>
        {
            await credentials.AuthorizeAsync(callers.Of(context), request.App, request.Env, [request.Namespace], context.CancellationToken);
            var record = await delivery.ReportAsync(
                request.App, request.Env, request.Namespace, request.Instance?.InstanceId ?? "", request.Instance?.Labels.ToList() ?? [],
                request.ReleaseId, request.Status switch
                {
                    Api.Config.V1.DeliveryStatus.Rejected => ConfigCenter.Model.DeliveryStatus.Rejected,
                    Api.Config.V1.DeliveryStatus.Unhealthy => ConfigCenter.Model.DeliveryStatus.Unhealthy,
                    _ => ConfigCenter.Model.DeliveryStatus.Applied,
                },
                request.Reason, context.Peer,
                [.. request.FlagEvaluations.Select(static e => new ConfigCenter.Model.FlagEvaluationCount(e.Flag, e.Variant, e.Total, e.Recent))],
                context.CancellationToken);
            return new ReportResponse { LeaseId = record.LeaseId };
        });

    public Task<ConvergenceResponse> GetConvergenceAsync(ConvergenceRequest request, ServerCallContext context) =>
        GuardAsync(async () =>
        {
            var c = await delivery.ConvergenceAsync(request.App, request.Env, request.Namespace, request.ReleaseId, context.CancellationToken);
            var response = new ConvergenceResponse { ReleaseId = c.ReleaseId, Instances = c.Instances, Applied = c.Applied };
            foreach (var (id, count) in c.ByRelease)
            {
                response.ByRelease[id] = count;
            }

            response.Rejected.AddRange(c.Rejected.Select(r => new RejectedInstance { InstanceId = r.InstanceId, Reason = r.Reason ?? "" }));
            return response;
        });

    public static ReleaseMessage ToMessage(EffectiveRelease effective)
    {
        var r = effective.Release;
        var message = new ReleaseMessage
        {
            App = r.App, Env = r.Env, Namespace = r.Namespace, ReleaseId = r.Id, Format = r.Format.ToString().ToLowerInvariant(),
            Content = r.Content, ContentHash = r.ContentHash, Gray = effective.IsGray, Title = r.Title, Author = r.Author,
            CreatedUnixMs = r.CreatedAt.ToUnixTimeMilliseconds(),
        };
        foreach (var (k, v) in r.Configurations)
        {
            message.Configurations[k] = v;
        }

        return message;
    }

    private static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (ConfigCenterException e)
        {
            throw ConfigErrors.ToRpc(e);
        }
    }
}

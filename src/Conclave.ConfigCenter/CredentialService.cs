using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.ConfigCenter;

/// <summary>
/// App credentials (ADR 0015 decision 5): created, listed and revoked by the app's managers, each change one
/// transaction with its audit entry; and the check of the client endpoints (<c>Fetch</c>, <c>Subscribe</c>,
/// <c>Report</c>, HTTP <c>effective</c>/<c>reports</c>), which need a credential of the app and environment (or a
/// signed-in user) whenever auth is enabled or the app has an active credential in that environment.
/// </summary>
public sealed class CredentialService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null)
{
    /// <summary>Active credentials per app and environment: two, so a rotation overlaps (create, deploy, revoke the old).</summary>
    public const int MaxActive = 2;

    private const int MaxNameLength = 200;


    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    private readonly ConfigAccess access = new(port, limits, clock);

    /// <summary>
    /// Refuses (PermissionDenied) unless <paramref name="who"/> may manage <paramref name="app"/>'s credentials: anyone
    /// while auth is disabled, root, the app's owner or its admins (ADR 0015).
    /// </summary>
    /// <returns>The compares that pin the decision in the change's transaction.</returns>
    public async ValueTask<Compare[]> RequireManagerAsync(ChangeContext who, string app, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("app", app, Limits);
        return await access.RequireManagerAsync(who, app, "manage the credentials", cancellationToken);
    }

    /// <summary>
    /// Creates a credential of <paramref name="app"/> in <paramref name="env"/> and returns its access key, which is
    /// never shown again. Refused (FailedPrecondition) while <see cref="MaxActive"/> are active, naming them.
    /// </summary>
    public async ValueTask<IssuedCredential> CreateAsync(string app, string env, string? name, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        ConfigNames.CheckName("environment", env, Limits);
        if (name is { Length: > MaxNameLength } || (name ?? "").Any(char.IsControl))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a credential's name is at most {MaxNameLength} characters without control characters");
        }

        var pins = await RequireManagerAsync(who, app, cancellationToken);
        var prefix = ConfigKeys.Credentials(app, env);
        var existing = await store.Port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix) }, cancellationToken);
        var active = existing.Kvs.Select(kv => ConfigJson.Decode<AppCredential>(kv.Value)).Where(c => c.Active).ToList();
        if (active.Count >= MaxActive)
        {
            throw new ConfigCenterException(
                ConfigErrorKind.FailedPrecondition,
                $"{app}/{env} already has {active.Count} active credentials ({string.Join(", ", active.Select(c => $"{c.Id} '{c.Name}'"))}); the limit is {MaxActive}: "
                + "to rotate, revoke the one the new key replaces once the new one is deployed, then create the next");
        }

        var (id, secret) = AccessKey.Generate();
        var key = AccessKey.Format(id, secret);
        var now = clock.GetUtcNow();
        var credential = new AppCredential
        {
            App = app, Env = env, Id = id, Name = name ?? "", SecretHash = AccessKey.Hash(secret), Hint = key[^4..],
            CreatedAt = now, CreatedBy = who.Author,
        };

        // Nothing under the prefix changed since the read (a concurrent create would add a key after it), so the limit holds.
        var unchanged = new Api.Etcd.Compare
        {
            Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), Target = Api.Etcd.Compare.Types.CompareTarget.Mod,
            Result = Api.Etcd.Compare.Types.CompareResult.Less, ModRevision = existing.Header.Revision + 1,
        };
        var (ok, _) = await store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.App(app)), ConfigStore.Present(ConfigKeys.Environment(app, env)), unchanged],
            [ConfigStore.Put(ConfigKeys.Credential(app, env, id), credential), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "credential.create", $"{app}/{env}/{id}", credential.Name))],
            cancellationToken);
        if (!ok)
        {
            await store.ThrowMissingAsync(app, env, null, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.Conflict, $"the credentials of {app}/{env} changed while this one was created: try again");
        }

        return new IssuedCredential(CredentialView.Of(credential), key);
    }

    /// <summary>The credentials of <paramref name="app"/> in <paramref name="env"/>, revoked ones included, oldest first.</summary>
    public async ValueTask<IReadOnlyList<CredentialView>> ListAsync(string app, string env, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("environment", env, Limits);
        await RequireManagerAsync(who, app, cancellationToken);
        await store.ThrowMissingAsync(app, env, null, cancellationToken);
        return (await store.ListAsync<AppCredential>(ConfigKeys.Credentials(app, env), cancellationToken))
            .Select(x => x.Value).OrderBy(c => c.CreatedAt).Select(CredentialView.Of).ToList();
    }

    /// <summary>
    /// Revokes a credential: calls presenting it are refused from the moment this returns, and open subscriptions
    /// holding it end (see <see cref="WaitForRevocationAsync"/>). Revoking a revoked credential changes nothing.
    /// </summary>
    public async ValueTask<CredentialView> RevokeAsync(string app, string env, string id, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        ConfigNames.CheckName("environment", env, Limits);
        CheckId(id);
        await RequireManagerAsync(who, app, cancellationToken);
        var key = ConfigKeys.Credential(app, env, id);
        var (credential, revision, _) = await store.GetAsync<AppCredential>(key, cancellationToken);
        if (credential is null)
        {
            await store.ThrowMissingAsync(app, env, null, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"credential '{id}' of {app}/{env} does not exist");
        }

        if (!credential.Active)
        {
            return CredentialView.Of(credential);
        }

        var now = clock.GetUtcNow();
        var revoked = credential with { RevokedAt = now, RevokedBy = who.Author };
        var (ok, _) = await store.CommitAsync(
            [ConfigStore.ModifiedAt(key, revision)],
            [ConfigStore.Put(key, revoked), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "credential.revoke", $"{app}/{env}/{id}", credential.Name))],
            cancellationToken);
        return ok
            ? CredentialView.Of(revoked)
            : throw new ConfigCenterException(ConfigErrorKind.Conflict, $"credential '{id}' of {app}/{env} changed during the revocation: try again");
    }

    /// <summary>
    /// Decides whether <paramref name="caller"/> may use the client endpoints for <paramref name="namespaces"/> of
    /// <paramref name="app"/> in <paramref name="env"/>. A presented access key is always checked; it must be an active
    /// credential of the app and environment, or of an app whose own namespace of the same name associates
    /// <paramref name="app"/>'s public one. Without a key a signed-in user may; otherwise the call is open only while
    /// auth is disabled and the app has no active credential in the environment.
    /// </summary>
    /// <exception cref="ConfigCenterException">Unauthenticated (no key where one is needed, an unknown, malformed or revoked
    /// key) or PermissionDenied (another app's key).</exception>
    public async ValueTask<ClientAccess> AuthorizeAsync(ClientCaller caller, string app, string env, IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken = default) =>
        await AuthorizeCallerAsync(caller, app, env, namespaces, cancellationToken) with { Person = caller.Person, SecureChannel = caller.SecureChannel };

    /// <summary>
    /// Refuses to deliver the secret values of <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/> to
    /// <paramref name="client"/> unless the call came over TLS (or loopback) and, for a signed-in user rather than an app
    /// credential, the user holds the reveal permission there (ADR 0015 decision 6). An open call (auth disabled, no
    /// credential in the environment) gets them: that member hands everything to anyone who reaches it.
    /// </summary>
    public async ValueTask AuthorizeSecretsAsync(ClientAccess client, string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        if (!client.SecureChannel)
        {
            throw new ConfigCenterException(
                ConfigErrorKind.FailedPrecondition,
                $"{app}/{env}/{ns} holds secrets, which this member delivers only over TLS (or to loopback): connect with an https:// endpoint");
        }

        if (client.Credential is null && client.User is not null
            && (client.Person is not { } person || !await access.CanAsync(person, app, env, ns, ConfigPermission.Reveal, cancellationToken)))
        {
            throw new ConfigCenterException(
                ConfigErrorKind.PermissionDenied,
                $"{app}/{env}/{ns} holds secrets: user '{client.User}' receives them only with the reveal permission there (apps read them with an app credential)");
        }
    }

    private async ValueTask<ClientAccess> AuthorizeCallerAsync(ClientCaller caller, string app, string env, IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(caller.AccessKey))
        {
            return await AuthorizeKeyAsync(caller.AccessKey, app, env, namespaces, cancellationToken);
        }

        if (!string.IsNullOrEmpty(caller.User))
        {
            return new ClientAccess(null, 0, caller.User);
        }

        if (caller.AuthEnabled)
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"reading {app}/{env} needs an app credential ({AccessKey.Header}: {{id}}.{{secret}}) or a signed-in user");
        }

        if (IsValidName(app) && IsValidName(env) && await HasActiveAsync(app, env, cancellationToken))
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"{app}/{env} has active app credentials, so its clients must send one ({AccessKey.Header}: {{id}}.{{secret}})");
        }

        return ClientAccess.Open;
    }

    /// <summary>Whether <paramref name="app"/> has an active credential in <paramref name="env"/>.</summary>
    public async ValueTask<bool> HasActiveAsync(string app, string env, CancellationToken cancellationToken = default) =>
        (await store.ListAsync<AppCredential>(ConfigKeys.Credentials(app, env), cancellationToken)).Any(x => x.Value.Active);

    /// <summary>
    /// Completes when the credential <paramref name="access"/> holds is revoked or deleted after the revision it was
    /// read at; never, for other kinds of access. One watch of the credential's own key: no polling.
    /// </summary>
    public async Task WaitForRevocationAsync(ClientAccess access, CancellationToken cancellationToken)
    {
        if (access.Credential is not { } credential)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, clock, cancellationToken);
            return;
        }

        var key = ConfigKeys.Credential(credential.App, credential.Env, credential.Id);
        var from = access.Revision + 1;
        while (true)
        {
            try
            {
                await foreach (var change in port.WatchAsync(key, from, cancellationToken))
                {
                    foreach (var e in change.Events)
                    {
                        if (e.Kv.Key == key && (e.Type == Api.Mvcc.Event.Types.EventType.Delete || !ConfigJson.Decode<AppCredential>(e.Kv.Value).Active))
                        {
                            return;
                        }
                    }

                    from = change.Revision + 1;
                }

                cancellationToken.ThrowIfCancellationRequested();
                throw new OperationCanceledException("the keyspace watch ended");
            }
            catch (KeyspaceCompactedException)
            {
                // The history since our revision is gone: decide on the record as it is now, then watch from there.
                var (now, _, revision) = await store.GetAsync<AppCredential>(key, cancellationToken);
                if (now is not { Active: true })
                {
                    return;
                }

                from = revision + 1;
            }
        }
    }

    private async ValueTask<ClientAccess> AuthorizeKeyAsync(string text, string app, string env, IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken)
    {
        if (!AccessKey.TryParse(text, out var id, out var secret))
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"the access key is malformed: expected {{id}}.{{secret}} as 'conclave config credentials create' printed it ({AccessKey.MaxLength} characters)");
        }

        AppCredential? credential = null;
        long revision = 0;
        if (IsValidName(app) && IsValidName(env))
        {
            (credential, _, revision) = await store.GetAsync<AppCredential>(ConfigKeys.Credential(app, env, id), cancellationToken);
        }

        if (credential is null)
        {
            (credential, revision) = await FindAsync(id, cancellationToken);
        }

        if (credential is null || !AccessKey.Matches(secret, credential.SecretHash))
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"access key '{id}' is not a credential of this member (unknown id or wrong secret)");
        }

        if (!credential.Active)
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, $"access key '{id}' of {credential.App}/{credential.Env} was revoked at {credential.RevokedAt:u} by {credential.RevokedBy}");
        }

        if (credential.Env != env)
        {
            throw new ConfigCenterException(ConfigErrorKind.PermissionDenied, $"access key '{id}' is a credential of {credential.App}/{credential.Env}: it reads nothing in environment '{env}'");
        }

        if (credential.App != app)
        {
            foreach (var ns in namespaces)
            {
                if (!await AssociatesAsync(credential.App, app, env, ns, cancellationToken))
                {
                    throw new ConfigCenterException(
                        ConfigErrorKind.PermissionDenied,
                        $"access key '{id}' is a credential of app '{credential.App}': it may read app '{app}' only through public namespaces '{credential.App}' associates, and {app}/{env}/{ns} is not one");
                }
            }
        }

        return new ClientAccess(credential, revision, null);
    }

    /// <summary>Whether <paramref name="ownApp"/>'s namespace <paramref name="ns"/> associates <paramref name="baseApp"/>'s public one.</summary>
    private async ValueTask<bool> AssociatesAsync(string ownApp, string baseApp, string env, string ns, CancellationToken cancellationToken)
    {
        if (!IsValidName(baseApp) || !IsValidName(ns))
        {
            return false;
        }

        var own = (await store.GetAsync<NamespaceRecord>(ConfigKeys.Namespace(ownApp, env, ns), cancellationToken)).Value;
        if (own?.BaseApp != baseApp)
        {
            return false;
        }

        var shared = (await store.GetAsync<NamespaceRecord>(ConfigKeys.Namespace(baseApp, env, ns), cancellationToken)).Value;
        return shared is { IsPublic: true };
    }

    /// <summary>A credential by id alone (keys only, then the one record): the unusual path, a key used for another app.</summary>
    private async ValueTask<(AppCredential? Credential, long Revision)> FindAsync(string id, CancellationToken cancellationToken)
    {
        var prefix = ConfigKeys.AllCredentials();
        var keys = await store.Port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), KeysOnly = true }, cancellationToken);
        var suffix = ByteString.CopyFromUtf8("/" + id);
        foreach (var kv in keys.Kvs)
        {
            if (kv.Key.Length > suffix.Length && kv.Key.Span.EndsWith(suffix.Span))
            {
                var (credential, _, revision) = await store.GetAsync<AppCredential>(kv.Key, cancellationToken);
                return (credential, revision);
            }
        }

        return (null, keys.Header?.Revision ?? 0);
    }

    private void CheckId(string id)
    {
        if (id.Length != AccessKey.IdLength || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"credential id '{id}' is invalid: {AccessKey.IdLength} characters of A-Z a-z 0-9 - _");
        }
    }

    private bool IsValidName(string? name)
    {
        try
        {
            ConfigNames.CheckName("name", name, Limits);
            return true;
        }
        catch (ConfigCenterException)
        {
            return false;
        }
    }
}

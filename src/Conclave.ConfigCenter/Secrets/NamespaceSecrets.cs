using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// Envelope encryption of the center's secrets (ADR 0015, decision 6): a random 256-bit data key per namespace, wrapped
/// by the master key (<see cref="IMasterKeyProvider"/>) and stored at <see cref="ConfigKeys.DataKeys"/>; secret values
/// sealed with it on the member that receives the edit, before anything is proposed. Also opens and masks the
/// records that hold sealed values, and re-wraps every data key when the master key rotates.
/// </summary>
public sealed class NamespaceSecrets(ConfigStore store, IMasterKeyProvider? masterKeys, TimeProvider? clock = null)
{
    /// <summary>What views show instead of a secret value.</summary>
    public const string Mask = "******";

    /// <summary>Data keys kept unwrapped (per namespace incarnation); past this the cache starts over.</summary>
    public const int CacheCapacity = 4096;

    /// <summary>The refusal when a member without a master key is asked to seal.</summary>
    public const string NoMasterKey =
        "secrets need a master key: start every member with --config-master-key-file PATH (32 random bytes, base64) or the CONCLAVE_MASTER_KEY environment variable";

    private static readonly ConfigLimits Unbounded = new() { MaxContentBytes = int.MaxValue, MaxValueBytes = int.MaxValue };

    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<(string App, string Env, string Ns, long Created), NamespaceDataKey> cache = new();
    private int added;

    /// <summary>Whether this member can seal and open (it has a master key).</summary>
    public bool Available => masterKeys is not null;

    public IMasterKeyProvider? MasterKeys => masterKeys;

    public static bool HasSecrets(NamespaceRecord n) => n.Secret || n.Items.Any(i => i.Secret);

    public static bool HasSecrets(ReleaseRecord r) => r.Sealed || r.SecretKeys.Count > 0;

    /// <summary>Refuses (naming the flag) when this member has no master key.</summary>
    public void RequireMasterKey()
    {
        if (masterKeys is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, NoMasterKey);
        }
    }

    /// <summary>
    /// The data key an edit of <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/> seals with. With
    /// <paramref name="create"/> and no key yet, a new one whose record the edit writes in its own transaction
    /// (<see cref="NamespaceDataKey.Create"/>, guarded by <see cref="NamespaceDataKey.Guard"/>).
    /// </summary>
    public async ValueTask<NamespaceDataKey> ForEditAsync(string app, string env, string ns, bool create, CancellationToken cancellationToken)
    {
        RequireMasterKey();
        var key = ConfigKeys.DataKeys(app, env, ns);
        var (record, _, _) = await store.GetAsync<DataKeyRecord>(key, cancellationToken);
        if (record is not null)
        {
            return await UnwrapAsync(record, cancellationToken) with { Guard = ConfigStore.Present(key) };
        }

        if (!create)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"{app}/{env}/{ns} holds sealed values but has no data key record");
        }

        var dataKey = RandomNumberGenerator.GetBytes(32);
        var wrapped = await masterKeys!.WrapAsync(dataKey, WrapAssociatedData(app, env, ns, 1), cancellationToken);
        var fresh = new DataKeyRecord
        {
            App = app, Env = env, Namespace = ns,
            Keys = [new WrappedDataKey { Version = 1, MasterKeyId = masterKeys.CurrentKeyId, Wrapped = Convert.ToBase64String(wrapped), CreatedAt = clock.GetUtcNow() }],
        };
        return new NamespaceDataKey(app, env, ns, new Dictionary<int, byte[]> { [1] = dataKey }, 1)
        {
            Guard = ConfigStore.Absent(key),
            Create = ConfigStore.Put(key, fresh),
        };
    }

    /// <summary>The data key of <paramref name="n"/> for opening, cached per namespace incarnation (its create revision).</summary>
    public async ValueTask<NamespaceDataKey> ForReadAsync(NamespaceRecord n, CancellationToken cancellationToken, int needVersion = 1)
    {
        if (masterKeys is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"the secrets of {n.App}/{n.Env}/{n.Name} cannot be opened on this member: it has no master key (--config-master-key-file or CONCLAVE_MASTER_KEY)");
        }

        var cacheKey = (n.App, n.Env, n.Name, n.CreateRevision);
        if (n.CreateRevision > 0 && cache.TryGetValue(cacheKey, out var cached) && cached.Holds(needVersion))
        {
            return cached;
        }

        var (record, _, _) = await store.GetAsync<DataKeyRecord>(ConfigKeys.DataKeys(n.App, n.Env, n.Name), cancellationToken);
        var key = record is null
            ? throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"{n.App}/{n.Env}/{n.Name} holds sealed values but has no data key record")
            : await UnwrapAsync(record, cancellationToken);
        if (n.CreateRevision > 0)
        {
            if (Interlocked.Increment(ref added) > CacheCapacity)
            {
                cache.Clear();
                Interlocked.Exchange(ref added, 0);
            }

            cache[cacheKey] = key;
        }

        return key;
    }

    /// <summary>Unwraps every version of <paramref name="record"/> (the namespace it names is the associated data).</summary>
    public async ValueTask<NamespaceDataKey> UnwrapAsync(DataKeyRecord record, CancellationToken cancellationToken)
    {
        if (masterKeys is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"the secrets of {record.App}/{record.Env}/{record.Namespace} cannot be opened on this member: it has no master key (--config-master-key-file or CONCLAVE_MASTER_KEY)");
        }

        if (record.FormatVersion != 1 || record.Keys.Count == 0)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"the data key record of {record.App}/{record.Env}/{record.Namespace} is version {record.FormatVersion} with {record.Keys.Count} keys; this member reads version 1 with at least one");
        }

        var keys = new Dictionary<int, byte[]>();
        foreach (var wrapped in record.Keys)
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(wrapped.Wrapped);
            }
            catch (FormatException)
            {
                throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"data key version {wrapped.Version} of {record.App}/{record.Env}/{record.Namespace} is not base64");
            }

            try
            {
                keys[wrapped.Version] = await masterKeys.UnwrapAsync(wrapped.MasterKeyId, bytes, WrapAssociatedData(record.App, record.Env, record.Namespace, wrapped.Version), cancellationToken);
            }
            catch (ConfigCenterException e)
            {
                throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"the data key of {record.App}/{record.Env}/{record.Namespace} cannot be unwrapped: {e.Message}");
            }
        }

        return new NamespaceDataKey(record.App, record.Env, record.Namespace, keys, keys.Keys.Max());
    }

    /// <summary>The data key record of a namespace, as stored (wrapped); null when it has none.</summary>
    public async ValueTask<DataKeyRecord?> RecordAsync(string app, string env, string ns, CancellationToken cancellationToken) =>
        (await store.GetAsync<DataKeyRecord>(ConfigKeys.DataKeys(app, env, ns), cancellationToken)).Value;

    /// <summary>
    /// Re-wraps every data key not yet under the current master key, each record in its own guarded transaction with an
    /// audit entry of its app, then every webhook signing secret likewise. Readers, editors and deliveries go on
    /// meanwhile: the data keys and secrets themselves do not change.
    /// </summary>
    public async ValueTask<KeyRotationResult> RotateAsync(ChangeContext who, CancellationToken cancellationToken)
    {
        RequireMasterKey();
        var current = masterKeys!.CurrentKeyId;
        var (rewrapped, already, failed) = await RecordRewrap.AllAsync<DataKeyRecord>(
            store, ConfigKeys.AllDataKeys(), record => record.Keys.All(k => k.MasterKeyId == current),
            async record =>
            {
                var next = new List<WrappedDataKey>();
                foreach (var k in record.Keys)
                {
                    if (k.MasterKeyId == current)
                    {
                        next.Add(k);
                        continue;
                    }

                    var aad = WrapAssociatedData(record.App, record.Env, record.Namespace, k.Version);
                    var plain = await masterKeys.UnwrapAsync(k.MasterKeyId, Convert.FromBase64String(k.Wrapped), aad, cancellationToken);
                    next.Add(k with { MasterKeyId = current, Wrapped = Convert.ToBase64String(await masterKeys.WrapAsync(plain, aad, cancellationToken)) });
                }

                return record with { Keys = next };
            },
            record => ($"{record.App}/{record.Env}/{record.Namespace}", record.App),
            $"data key re-wrapped under master key {current}", who, clock, cancellationToken);

        // Webhook signing secrets are wrapped under the master key too (ADR 0016): the same rotation moves them.
        var hooks = await Webhooks.WebhookService.RewrapSecretsAsync(store, masterKeys, who, clock, cancellationToken);
        failed.AddRange(hooks.Failed);
        return new KeyRotationResult(current, rewrapped, already, failed) { WebhookSecretsRewrapped = hooks.Rewrapped, WebhookSecretsAlreadyCurrent = hooks.AlreadyCurrent };
    }

    // ---- records with sealed values ----

    /// <summary>The working copy as plaintext (for validation at publish): secret items and a sealed document opened.</summary>
    public static string OpenedWorkingContent(NamespaceRecord n, NamespaceDataKey key) =>
        n.Format == NamespaceFormat.Properties
            ? PropertiesDocument.Render(n.Items.Select(i => i.Secret ? i with { Value = key.Open(i.Key, i.Value) } : i))
            : n.Secret ? key.Open("", n.Content) : n.Content;

    /// <summary><paramref name="n"/> with its secret values opened (<paramref name="key"/>) or masked (null).</summary>
    public static NamespaceRecord View(NamespaceRecord n, NamespaceDataKey? key)
    {
        if (!HasSecrets(n))
        {
            return n;
        }

        var items = n.Items.Select(i => i.Secret ? i with { Value = key is null ? Mask : key.Open(i.Key, i.Value) } : i).ToList();
        var content = n.Format != NamespaceFormat.Properties && n.Secret ? (key is null ? Mask : key.Open("", n.Content)) : n.Content;
        return n with { Items = items, Content = content };
    }

    /// <summary><paramref name="r"/> with its secret values opened (<paramref name="key"/>; the content hash then covers the plaintext) or masked (null).</summary>
    public static ReleaseRecord View(ReleaseRecord r, NamespaceDataKey? key)
    {
        if (!HasSecrets(r))
        {
            return r;
        }

        if (r.Format != NamespaceFormat.Properties)
        {
            var opened = key is null ? Mask : key.Open("", r.Content);
            return r with { Content = opened, ContentHash = key is null ? r.ContentHash : ConfigCenterService.Hash(opened) };
        }

        var secret = r.SecretKeys.ToHashSet(StringComparer.Ordinal);
        string Value(string k, string v) => !secret.Contains(k) ? v : key is null ? Mask : key.Open(k, v);
        var items = PropertiesDocument.Parse(r.Content, Unbounded).Select(i => i with { Value = Value(i.Key, i.Value) }).ToList();
        var content = PropertiesDocument.Render(items);
        return r with
        {
            Content = content,
            Configurations = r.Configurations.ToDictionary(p => p.Key, p => Value(p.Key, p.Value), StringComparer.Ordinal),
            ContentHash = key is null ? r.ContentHash : ConfigCenterService.Hash(content),
        };
    }

    /// <summary>
    /// <paramref name="r"/> with every sealed value masked (a release request holds the working copy as stored: secret
    /// values sealed; a view never shows ciphertext).
    /// </summary>
    public static ReleaseRequest View(ReleaseRequest r) =>
        r with
        {
            Content = MaskSealed(r.Content),
            Configurations = r.Configurations.ToDictionary(p => p.Key, p => MaskSealed(p.Value), StringComparer.Ordinal),
        };

    /// <summary>Replaces each sealed value inside <paramref name="text"/> (<c>sealed:v1:N:base64url</c>) with the mask.</summary>
    internal static string MaskSealed(string text)
    {
        const string marker = "sealed:v1:";
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return text;
        }

        var masked = new StringBuilder(text.Length);
        var from = 0;
        while (at >= 0)
        {
            var end = at + marker.Length;
            while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '-' or '_' or ':'))
            {
                end++;
            }

            masked.Append(text, from, at - from).Append(Mask);
            from = end;
            at = text.IndexOf(marker, end, StringComparison.Ordinal);
        }

        return masked.Append(text, from, text.Length - from).ToString();
    }

    /// <summary>Seals the values of <paramref name="items"/> that are secret (or all when <paramref name="all"/>); marks them secret.</summary>
    public static List<ConfigItem> Seal(IEnumerable<ConfigItem> items, NamespaceDataKey key, bool all) =>
        items.Select(i => i.Secret || all ? i with { Value = key.Seal(i.Key, i.Value), Secret = true } : i).ToList();

    /// <summary>The associated data a data key is wrapped with: the namespace it belongs to and its version.</summary>
    internal static byte[] WrapAssociatedData(string app, string env, string ns, int version) =>
        Encoding.UTF8.GetBytes($"conclave/data-key/v1/{app}/{env}/{ns}/{version}");
}

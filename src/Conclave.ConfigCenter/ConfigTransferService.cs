using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter;

/// <summary>
/// Export of an app, an environment or one namespace as a versioned file (<see cref="ConfigExport"/>), and import of
/// such a file into an app. Import writes working copies only (a publish is separate), each namespace in its own
/// guarded transaction with its audit entry, and reports per namespace what it did and what it refused:
/// a namespace of another format, one with unpublished edits (unless overwriting), one edited concurrently, or
/// content that breaks a rule. Secrets stay sealed in the file, with the namespace's data key wrapped by the master key;
/// import opens them with that key (so only a cluster with the same master key can) and seals them again under the
/// target namespace's own data key. Importing them into another namespace than the one exported reveals them there,
/// so it needs the reveal permission on the source (<paramref name="canReveal"/>: <see cref="ConfigCenterService.CanRevealAsync"/>;
/// without it, refused).
/// </summary>
public sealed class ConfigTransferService(
    IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null, IMasterKeyProvider? masterKeys = null,
    Func<ChangeContext, string, string, string, CancellationToken, ValueTask<bool>>? canReveal = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ConfigAccess access = new(port, limits, clock);
    private readonly NamespaceSecrets secrets = new(new ConfigStore(port), masterKeys, clock);
    private readonly PublicNamespaceService publicNamespaces = new(port, limits, clock);

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    /// <summary>The working copies of every namespace of <paramref name="app"/> (or of one environment, or one namespace).</summary>
    public async ValueTask<ConfigExport> ExportAsync(string app, string? env, string? ns, CancellationToken cancellationToken = default)
    {
        await store.ThrowMissingAsync(app, env, null, cancellationToken);
        var envs = env is not null
            ? [env]
            : (await store.ListAsync<EnvironmentRecord>(ConfigKeys.Environments(app), cancellationToken)).Select(e => e.Value.Name).ToList();
        var result = new List<EnvironmentExport>();
        foreach (var name in envs)
        {
            var namespaces = ns is not null
                ? [await store.NamespaceAsync(app, name, ns, cancellationToken)]
                : (await store.ListAsync<NamespaceRecord>(ConfigKeys.Namespaces(app, name), cancellationToken)).Select(x => x.Value).ToList();
            var exported = new List<NamespaceExport>();
            foreach (var n in namespaces)
            {
                var head = await store.ReleaseAsync(app, name, n.Name, n.HeadReleaseId, cancellationToken);
                exported.Add(new NamespaceExport
                {
                    Name = n.Name, Format = n.Format, Schema = n.Schema, IsPublic = n.IsPublic, BaseApp = n.BaseApp, Items = n.Items, Content = n.Format == NamespaceFormat.Properties ? "" : n.Content,
                    HeadReleaseId = n.HeadReleaseId, HeadContentHash = head?.ContentHash,
                    Secret = n.Secret, DataKeys = NamespaceSecrets.HasSecrets(n) ? await secrets.RecordAsync(app, name, n.Name, cancellationToken) : null,
                });
            }

            result.Add(new EnvironmentExport(name, exported));
        }

        return new ConfigExport { App = app, ExportedAt = clock.GetUtcNow(), Environments = result };
    }

    /// <summary>
    /// Imports <paramref name="file"/> into <paramref name="app"/> (which must exist). <paramref name="intoEnv"/> imports a
    /// one-environment file into another environment (e.g. DEV's export into FAT). Missing environments and
    /// namespaces are created. With <paramref name="dryRun"/> nothing is written and the outcomes say what would happen.
    /// </summary>
    public async ValueTask<ImportResult> ImportAsync(string app, ConfigExport file, string? intoEnv, bool overwrite, bool dryRun, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        await access.RequireManagerAsync(who, app, "import", cancellationToken);
        if (file.Kind != ConfigExport.KindName || file.FormatVersion != 1)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument,
                $"the file is '{file.Kind}' version {file.FormatVersion}; this server imports '{ConfigExport.KindName}' version 1");
        }

        if (intoEnv is not null && file.Environments.Count != 1)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument,
                $"the file holds {file.Environments.Count} environments; importing into one named environment needs a file of exactly one");
        }

        await store.ThrowMissingAsync(app, null, null, cancellationToken);
        var outcomes = new List<ImportOutcome>();
        foreach (var environment in file.Environments)
        {
            var env = intoEnv ?? environment.Name;
            try
            {
                ConfigNames.CheckName("environment", env, Limits);
            }
            catch (ConfigCenterException e)
            {
                outcomes.AddRange(environment.Namespaces.Select(n => new ImportOutcome(env, n.Name, ImportAction.Invalid, e.Message)));
                continue;
            }

            if (!dryRun)
            {
                await EnsureEnvironmentAsync(app, env, who, cancellationToken);
            }

            foreach (var ns in environment.Namespaces)
            {
                outcomes.Add(await ImportNamespaceAsync(app, env, ns, overwrite, dryRun, who, cancellationToken));
            }
        }

        return new ImportResult(app, dryRun, outcomes);
    }

    private async ValueTask<ImportOutcome> ImportNamespaceAsync(string app, string env, NamespaceExport file, bool overwrite, bool dryRun, ChangeContext who, CancellationToken cancellationToken)
    {
        IReadOnlyList<ConfigItem> items;
        try
        {
            // Secrets are checked as plaintext, like any edit, and sealed again below under the target's data key.
            file = await OpenAsync(app, env, file, who, cancellationToken);
            items = Check(file);
        }
        catch (ConfigCenterException e)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
        }

        var content = file.Format == NamespaceFormat.Properties ? "" : file.Content;
        var schema = string.IsNullOrWhiteSpace(file.Schema) ? null : file.Schema;
        var key = ConfigKeys.Namespace(app, env, file.Name);
        var now = clock.GetUtcNow();
        var current = (await port.RangeAsync(new() { Key = key }, cancellationToken)).Kvs.FirstOrDefault();
        var associatedNow = false;
        if (file.BaseApp is { } baseApp)
        {
            // An association: created here as ConfigCenter's associate does (the base's public namespace must exist in
            // this environment), then its overrides are imported like any working copy.
            if (current is not null && ConfigStore.NamespaceOf(current).BaseApp != baseApp)
            {
                return new ImportOutcome(env, file.Name, ImportAction.Conflict, $"the file's namespace associates {baseApp}'s public namespace; the one here does not");
            }

            if (current is null)
            {
                try
                {
                    Validate(file, items, content, schema);
                    if (dryRun)
                    {
                        var source = await store.NamespaceAsync(baseApp, env, file.Name, cancellationToken);
                        if (!source.IsPublic)
                        {
                            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{baseApp}/{env}/{file.Name} is not public: it cannot be associated");
                        }

                        return new ImportOutcome(env, file.Name, ImportAction.Created, $"associates {baseApp}'s public namespace; " + Describe(Changes(file.Format, [], "", items, content)))
                        {
                            Changes = Changes(file.Format, [], "", items, content),
                        };
                    }

                    await publicNamespaces.AssociateNamespaceAsync(app, env, file.Name, baseApp, who, cancellationToken);
                    associatedNow = true;
                }
                catch (ConfigCenterException e)
                {
                    return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
                }

                current = (await port.RangeAsync(new() { Key = key }, cancellationToken)).Kvs.FirstOrDefault();
                if (current is null)
                {
                    return new ImportOutcome(env, file.Name, ImportAction.Conflict, "the association was deleted during the import");
                }
            }
        }

        if (current is null)
        {
            var created = Changes(file.Format, [], "", items, content);
            try
            {
                Validate(file, items, content, schema);
            }
            catch (ConfigCenterException e)
            {
                return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
            }

            if (dryRun)
            {
                return new ImportOutcome(env, file.Name, ImportAction.Created, Describe(created) + (schema is null ? "" : "; schema set")) { Changes = created };
            }

            var record = new NamespaceRecord
            {
                App = app, Env = env, Name = file.Name, Format = file.Format, Schema = schema, IsPublic = file.IsPublic, Secret = file.Secret, Items = items, Content = content,
                UpdatedAt = now, UpdatedBy = who.Author,
            };
            List<Api.Etcd.Compare> compares = [.. await access.RequireManagerAsync(who, app, "import", cancellationToken), ConfigStore.Present(ConfigKeys.Environment(app, env)), ConfigStore.Absent(key)];
            List<Api.Etcd.RequestOp> writes = [ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "import.create", $"{app}/{env}/{file.Name}", file.Format.ToString()))];
            try
            {
                record = await SealAsync(record, compares, writes, cancellationToken);
            }
            catch (ConfigCenterException e)
            {
                return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
            }

            writes.Add(ConfigStore.Put(key, record));
            var (createdOk, _) = await store.CommitAsync(compares, writes, cancellationToken);
            return createdOk
                ? new ImportOutcome(env, file.Name, ImportAction.Created, Describe(created) + (schema is null ? "" : "; schema set")) { Changes = created }
                : new ImportOutcome(env, file.Name, ImportAction.Conflict, "the namespace was created (or its environment deleted) during the import");
        }

        var n = ConfigStore.NamespaceOf(current);
        if (n.Format != file.Format)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Conflict, $"the namespace is {n.Format}, the file's is {file.Format}");
        }

        var secret = n.Secret || file.Secret;
        var keepSecret = n.Items.Where(i => i.Secret).Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        items = items.Select(i => i with { Secret = i.Secret || secret || keepSecret.Contains(i.Key) }).ToList();
        NamespaceRecord existing;
        try
        {
            existing = NamespaceSecrets.HasSecrets(n) ? NamespaceSecrets.View(n, await secrets.ForReadAsync(n, cancellationToken)) : n;
        }
        catch (ConfigCenterException e)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
        }

        // An association this import just made is reported as created, with its overrides as the changes.
        var updated = associatedNow ? ImportAction.Created : ImportAction.Updated;
        if (existing.Items.SequenceEqual(items) && existing.Content == content && n.Schema == schema)
        {
            return new ImportOutcome(env, file.Name, associatedNow ? ImportAction.Created : ImportAction.Unchanged, associatedNow ? $"associates {file.BaseApp}'s public namespace" : "");
        }

        var itemChanges = Changes(file.Format, existing.Items, existing.Content, items, content);
        var summary = Describe(itemChanges) + (n.Schema == schema ? "" : schema is null ? "; schema removed" : n.Schema is null ? "; schema set" : "; schema changed");
        try
        {
            Validate(file, items, content, schema);
        }
        catch (ConfigCenterException e)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
        }

        var head = await store.ReleaseAsync(app, env, file.Name, n.HeadReleaseId, cancellationToken);
        var working = ConfigCenterService.WorkingContent(n);
        var unpublished = head is null ? working.Length > 0 : ConfigCenterService.Hash(working) != head.ContentHash;
        if (unpublished && !overwrite)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Conflict, "the working copy has unpublished edits: publish or discard them, or import with overwrite");
        }

        if (dryRun)
        {
            return new ImportOutcome(env, file.Name, updated, summary) { Changes = itemChanges };
        }

        var next = n with { Items = items, Content = content, Schema = schema, Secret = secret, UpdatedAt = now, UpdatedBy = who.Author };
        List<Api.Etcd.Compare> guards = [.. await access.RequireManagerAsync(who, app, "import", cancellationToken), ConfigStore.ModifiedAt(key, n.Revision)];
        List<Api.Etcd.RequestOp> changes = [ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "import.update", $"{app}/{env}/{file.Name}", overwrite && unpublished ? "overwrote unpublished edits" : ""))];
        try
        {
            next = await SealAsync(next, guards, changes, cancellationToken);
        }
        catch (ConfigCenterException e)
        {
            return new ImportOutcome(env, file.Name, ImportAction.Invalid, e.Message);
        }

        changes.Add(ConfigStore.Put(key, next));
        var (ok, _) = await store.CommitAsync(guards, changes, cancellationToken);
        return ok
            ? new ImportOutcome(env, file.Name, updated, summary) { Changes = itemChanges }
            : new ImportOutcome(env, file.Name, ImportAction.Conflict, "the namespace was edited during the import: nothing of it was imported");
    }

    /// <summary>
    /// <paramref name="file"/> with its sealed values opened by the data key it carries (bound to the namespace it was
    /// exported from). A file from another cluster's master key, or whose values were altered, is refused.
    /// </summary>
    private async ValueTask<NamespaceExport> OpenAsync(string app, string env, NamespaceExport file, ChangeContext who, CancellationToken cancellationToken)
    {
        var sealedDocument = file.Secret && file.Format != NamespaceFormat.Properties;
        if (!sealedDocument && !file.Items.Any(i => i.Secret))
        {
            return file;
        }

        if (file.DataKeys is not { } record)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "it holds sealed values but not the data key they were sealed with (dataKeys)");
        }

        NamespaceDataKey key;
        try
        {
            key = await secrets.UnwrapAsync(record, cancellationToken);
        }
        catch (ConfigCenterException e)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable,
                $"its secrets cannot be opened here: {e.Message}. An export's secrets import only into a cluster whose members have the master key it was made with");
        }

        if ((record.App, record.Env, record.Namespace) != (app, env, file.Name)
            && (canReveal is null || !await canReveal(who, record.App, record.Env, record.Namespace, cancellationToken)))
        {
            throw new ConfigCenterException(ConfigErrorKind.PermissionDenied,
                $"its secrets come from {record.App}/{record.Env}/{record.Namespace}: importing them elsewhere reveals them, which needs the reveal permission there");
        }

        return file with
        {
            Items = file.Items.Select(i => i.Secret ? i with { Value = key.Open(i.Key, i.Value) } : i).ToList(),
            Content = sealedDocument ? key.Open("", file.Content) : file.Content,
            DataKeys = null,
        };
    }

    /// <summary>Seals the secret values of <paramref name="n"/> (plaintext) under its own data key; adds the key's guard, and its creation when new.</summary>
    private async ValueTask<NamespaceRecord> SealAsync(NamespaceRecord n, List<Api.Etcd.Compare> compares, List<Api.Etcd.RequestOp> writes, CancellationToken cancellationToken)
    {
        if (!NamespaceSecrets.HasSecrets(n))
        {
            return n;
        }

        var key = await secrets.ForEditAsync(n.App, n.Env, n.Name, create: true, cancellationToken);
        compares.Add(key.Guard!);
        if (key.Create is { } create)
        {
            writes.Add(create);
        }

        return n with
        {
            Items = NamespaceSecrets.Seal(n.Items, key, n.Secret),
            Content = n.Secret && n.Format != NamespaceFormat.Properties ? key.Seal("", n.Content) : n.Content,
        };
    }

    /// <summary>Checks a namespace of the file against the same rules as edits; returns its items (parsed from content for properties without items).</summary>
    private IReadOnlyList<ConfigItem> Check(NamespaceExport file)
    {
        ConfigNames.CheckName("namespace", file.Name, Limits);
        if (file.BaseApp is not null)
        {
            ConfigNames.CheckName("baseApp", file.BaseApp, Limits);
        }

        if (!Enum.IsDefined(file.Format))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"format '{file.Format}' is not one of properties, json, yaml, text");
        }

        if (!string.IsNullOrWhiteSpace(file.Schema))
        {
            DocumentValidator.CompileSchema(file.Schema, Limits);
        }

        if (file.Format != NamespaceFormat.Properties)
        {
            ConfigNames.CheckContent(file.Content ?? "", Limits);
            return [];
        }

        var items = file.Items.Count == 0 && !string.IsNullOrEmpty(file.Content) ? PropertiesDocument.Parse(file.Content, Limits) : file.Items.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            ConfigNames.CheckItemKey(item.Key, Limits);
            ConfigNames.CheckValue(item.Key, item.Value, Limits);
            if (item.Value is null || item.Value.Contains('\n', StringComparison.Ordinal) || item.Value.Contains('\r', StringComparison.Ordinal))
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the value of '{item.Key}' is missing or has a line break; properties values are single-line");
            }

            if (!seen.Add(item.Key))
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"item '{item.Key}' appears twice");
            }
        }

        ConfigNames.CheckContent(PropertiesDocument.Render(items), Limits);
        return items;
    }

    /// <summary>
    /// What an import that changes a working copy brings must pass what publish checks: the document parses for its
    /// format (bounded as every parse is) and its schema, the file's, accepts it. An empty document is a namespace
    /// nothing was written to yet.
    /// </summary>
    private void Validate(NamespaceExport file, IReadOnlyList<ConfigItem> items, string content, string? schema)
    {
        if (file.Format == NamespaceFormat.Properties)
        {
            if (schema is not null)
            {
                DocumentValidator.Validate(NamespaceFormat.Properties, PropertiesDocument.Render(items), schema, Limits);
            }
        }
        else if (file.Format != NamespaceFormat.Text && !string.IsNullOrWhiteSpace(content))
        {
            DocumentValidator.Validate(file.Format, content, schema, Limits);
        }
    }

    /// <summary>What replacing the working copy (<paramref name="oldItems"/> or <paramref name="oldContent"/>) changes; secret values masked.</summary>
    private static List<DiffEntry> Changes(NamespaceFormat format, IReadOnlyList<ConfigItem> oldItems, string oldContent, IReadOnlyList<ConfigItem> newItems, string newContent)
    {
        if (format != NamespaceFormat.Properties)
        {
            return oldContent == newContent ? [] : [new DiffEntry("", oldContent.Length == 0 ? DiffChange.Added : newContent.Length == 0 ? DiffChange.Removed : DiffChange.Changed,
                oldContent.Length == 0 ? null : $"{System.Text.Encoding.UTF8.GetByteCount(oldContent)} bytes", newContent.Length == 0 ? null : $"{System.Text.Encoding.UTF8.GetByteCount(newContent)} bytes")];
        }

        var secret = oldItems.Concat(newItems).Where(i => i.Secret).Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        string? Shown(string key, string? value) => value is not null && secret.Contains(key) ? NamespaceSecrets.Mask : value;
        var before = oldItems.ToDictionary(i => i.Key, i => i, StringComparer.Ordinal);
        var changes = new List<DiffEntry>();
        foreach (var item in newItems)
        {
            if (!before.Remove(item.Key, out var old))
            {
                changes.Add(new DiffEntry(item.Key, DiffChange.Added, null, Shown(item.Key, item.Value)));
            }
            else if (old.Value != item.Value || old.Comment != item.Comment || old.Secret != item.Secret)
            {
                changes.Add(new DiffEntry(item.Key, DiffChange.Changed, Shown(item.Key, old.Value), Shown(item.Key, item.Value)));
            }
        }

        changes.AddRange(oldItems.Where(i => before.ContainsKey(i.Key)).Select(i => new DiffEntry(i.Key, DiffChange.Removed, Shown(i.Key, i.Value), null)));
        return changes;
    }

    /// <summary>The changes in one line: "added a, b; changed c; removed d", or what happens to the document.</summary>
    private static string Describe(IReadOnlyList<DiffEntry> changes)
    {
        if (changes.Count == 1 && changes[0].Key.Length == 0)
        {
            var d = changes[0];
            return d.Change switch
            {
                DiffChange.Added => $"document of {d.NewValue}",
                DiffChange.Removed => "document emptied",
                _ => $"document changed ({d.OldValue} -> {d.NewValue})",
            };
        }

        var parts = new List<string>();
        foreach (var (change, word) in new[] { (DiffChange.Added, "added"), (DiffChange.Changed, "changed"), (DiffChange.Removed, "removed") })
        {
            var keys = changes.Where(c => c.Change == change).Select(c => c.Key).ToList();
            if (keys.Count > 0)
            {
                parts.Add($"{word} {string.Join(", ", keys.Take(20))}{(keys.Count > 20 ? $" and {keys.Count - 20} more" : "")}");
            }
        }

        return parts.Count == 0 ? "no item changes" : string.Join("; ", parts);
    }

    private async ValueTask EnsureEnvironmentAsync(string app, string env, ChangeContext who, CancellationToken cancellationToken)
    {
        var key = ConfigKeys.Environment(app, env);
        var now = clock.GetUtcNow();
        var record = new EnvironmentRecord { App = app, Name = env, CreatedAt = now, CreatedBy = who.Author };
        // Absent or not, the environment exists afterwards; a concurrent creation is as good as ours.
        await store.CommitAsync(
            [.. await access.RequireManagerAsync(who, app, "import", cancellationToken), ConfigStore.Present(ConfigKeys.App(app)), ConfigStore.Absent(key)],
            [ConfigStore.Put(key, record), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "env.create", $"{app}/{env}", "import"))],
            cancellationToken);
    }
}

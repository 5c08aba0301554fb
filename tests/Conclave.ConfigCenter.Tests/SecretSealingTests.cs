using System.Security.Cryptography;
using System.Text;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Secrets sealed before they are stored (ADR 0015, decision 6), on a real in-process member: what is stored is
/// ciphertext bound to its item, what clients get is plaintext, what views show is a mask; wrong keys, moved or altered
/// ciphertexts and a missing master key are clear refusals.
/// </summary>
public sealed class SecretSealingTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private static readonly byte[] KeyA = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] KeyB = RandomNumberGenerator.GetBytes(32);

    private LocalKeyValuePort Port() => fixture.NewPort();

    private ConfigCenterService Center(params byte[][] keys) => new(Port(), masterKeys: keys.Length == 0 ? null : new LocalMasterKeys(keys));

    private DeliveryService Delivery(params byte[][] keys) => new(Port(), masterKeys: keys.Length == 0 ? null : new LocalMasterKeys(keys));

    private async Task<(string App, ConfigCenterService Center)> SecretItemAsync(string marker)
    {
        var center = Center(KeyA);
        var app = await fixture.NewAppAsync();
        await center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", marker, "the database", Secret: true), 0, Alice);
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.user", "app"), 0, Alice);
        return (app, center);
    }

    [Fact]
    public async Task A_secret_item_is_stored_sealed_delivered_as_plaintext_and_shown_masked()
    {
        var marker = "pw-" + Guid.NewGuid().ToString("N");
        var (app, center) = await SecretItemAsync(marker);
        await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);

        // Stored: ciphertext in the working copy and the release, and a wrapped data key.
        var stored = await center.Store.NamespaceAsync(app, "DEV", "application", default);
        var item = Assert.Single(stored.Items, i => i.Key == "db.password");
        Assert.True(item.Secret);
        Assert.StartsWith("sealed:v1:1:", item.Value, StringComparison.Ordinal);
        var release = await center.LatestReleaseAsync(app, "DEV", "application");
        Assert.DoesNotContain(marker, release.Content, StringComparison.Ordinal);
        Assert.DoesNotContain(marker, string.Concat(release.Configurations.Values), StringComparison.Ordinal);
        Assert.Equal(["db.password"], release.SecretKeys);
        var keys = await center.Secrets.RecordAsync(app, "DEV", "application", default);
        Assert.Equal(LocalMasterKeys.IdOf(KeyA), Assert.Single(keys!.Keys).MasterKeyId);

        // Delivered: plaintext, with the content hash of what the client gets.
        var fetched = (await Delivery(KeyA).FetchAsync(app, "DEV", "application", "pod-1", [])).Release;
        Assert.Equal(marker, fetched.Configurations["db.password"]);
        Assert.Contains($"db.password={marker}", fetched.Content, StringComparison.Ordinal);
        Assert.Equal(ConfigCenterService.Hash(fetched.Content), fetched.ContentHash);

        // Shown: masked, unless revealed.
        var view = await center.ViewAsync(stored, reveal: false, Alice);
        Assert.Equal(NamespaceSecrets.Mask, view.Items.Single(i => i.Key == "db.password").Value);
        Assert.Equal("app", view.Items.Single(i => i.Key == "db.user").Value);
        Assert.Equal(marker, (await center.ViewAsync(stored, reveal: true, Alice)).Items.Single(i => i.Key == "db.password").Value);
        var releaseView = await center.ViewAsync(release, reveal: false, Alice);
        Assert.Equal(NamespaceSecrets.Mask, releaseView.Configurations["db.password"]);
        Assert.Contains("db.password=******", releaseView.Content, StringComparison.Ordinal);

        // A caller whose permissions are checked and who holds no reveal is refused.
        var bob = new ChangeContext("bob") { Enforced = true };
        var denied = await Assert.ThrowsAsync<ConfigCenterException>(() => center.ViewAsync(stored, reveal: true, bob).AsTask());
        Assert.Equal(ConfigErrorKind.PermissionDenied, denied.Kind);

        // Diffs compare plaintexts and show masks: setting the same value again changes nothing.
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", marker, "the database"), 0, Alice);
        Assert.Empty(await center.DiffWorkingCopyAsync(app, "DEV", "application"));
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", marker + "-2", "the database"), 0, Alice);
        var diff = Assert.Single(await center.DiffWorkingCopyAsync(app, "DEV", "application"));
        Assert.Equal((NamespaceSecrets.Mask, NamespaceSecrets.Mask), (diff.OldValue, diff.NewValue));
        Assert.True((await center.Store.NamespaceAsync(app, "DEV", "application", default)).Items.Single(i => i.Key == "db.password").Secret, "set again without the mark, it stays secret");
        var audit = await center.AuditAsync(app);
        Assert.DoesNotContain(audit, a => a.Detail.Contains(marker, StringComparison.Ordinal) || a.Target.Contains(marker, StringComparison.Ordinal));

        // The mask sent back (a form saved as shown) keeps the value.
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", NamespaceSecrets.Mask, "the database"), 0, Alice);
        var kept = await center.ViewAsync(await center.Store.NamespaceAsync(app, "DEV", "application", default), reveal: true, Alice);
        Assert.Equal(marker + "-2", kept.Items.Single(i => i.Key == "db.password").Value);
    }

    [Fact]
    public async Task Every_reveal_is_audited_before_the_plaintext_is_shown_and_a_refused_one_too()
    {
        var marker = "pw-" + Guid.NewGuid().ToString("N");
        var (app, center) = await SecretItemAsync(marker);
        var release = await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        var stored = await center.Store.NamespaceAsync(app, "DEV", "application", default);

        // Masked views are not reveals: nothing recorded.
        await center.ViewAsync(stored, reveal: false, Alice);
        Assert.DoesNotContain(await center.AuditAsync(app), a => a.Action == "secret.reveal");

        var carol = new ChangeContext("carol", "10.1.2.3") { Enforced = true, RequestId = "req-reveal-1" };
        await center.Access.GrantAsync(Alice, app, new AccessGrant("user:carol", ConfigPermission.Reveal, "DEV", "application"), default);
        Assert.Equal(marker, (await center.ViewAsync(stored, reveal: true, carol)).Items.Single(i => i.Key == "db.password").Value);
        Assert.Equal(marker, (await center.ViewAsync(release, reveal: true, carol)).Configurations["db.password"]);
        await center.DiffWorkingCopyAsync(app, "DEV", "application", reveal: true, carol);

        var reveals = (await center.AuditAsync(app)).Where(a => a.Action == "secret.reveal").ToList();
        Assert.Equal(3, reveals.Count);
        Assert.All(reveals, a => Assert.Equal(("carol", "10.1.2.3", "req-reveal-1", $"{app}/DEV/application"), (a.Author, a.From, a.RequestId, a.Target)));
        Assert.Contains(reveals, a => a.Detail == "working copy");
        Assert.Contains(reveals, a => a.Detail == $"release {release.Id}");
        Assert.Contains(reveals, a => a.Detail == "diff of the working copy");
        Assert.DoesNotContain(reveals, a => a.Detail.Contains(marker, StringComparison.Ordinal));

        // Without the permission: refused, and the refusal is on record.
        var dave = new ChangeContext("dave") { Enforced = true };
        var denied = await Assert.ThrowsAsync<ConfigCenterException>(() => center.ViewAsync(stored, reveal: true, dave).AsTask());
        Assert.Equal(ConfigErrorKind.PermissionDenied, denied.Kind);
        Assert.Contains(await center.AuditAsync(app), a => a.Action == "denied" && a.Author == "dave" && a.Detail.Contains("reveal", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Clients_get_secret_values_only_with_a_credential_or_the_reveal_permission_and_over_a_secure_channel()
    {
        var marker = "pw-" + Guid.NewGuid().ToString("N");
        var (app, center) = await SecretItemAsync(marker);
        await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        var credentials = new CredentialService(Port());
        var created = await credentials.CreateAsync(app, "DEV", "pods", Alice);
        var other = await fixture.NewAppAsync();
        var foreign = await credentials.CreateAsync(other, "DEV", "their pods", Alice);

        async Task<ConfigErrorKind?> Outcome(ClientCaller caller)
        {
            try
            {
                var access = await credentials.AuthorizeAsync(caller, app, "DEV", ["application"]);
                await credentials.AuthorizeSecretsAsync(access, app, "DEV", "application");
                return null;
            }
            catch (ConfigCenterException e)
            {
                return e.Kind;
            }
        }

        var erin = new ChangeContext("erin") { Enforced = true };
        var root = new ChangeContext("root") { Enforced = true, IsAdmin = true };
        Assert.Null(await Outcome(new ClientCaller(created.AccessKey, null, AuthEnabled: true)));
        Assert.Equal(ConfigErrorKind.FailedPrecondition, await Outcome(new ClientCaller(created.AccessKey, null, AuthEnabled: true) { SecureChannel = false }));
        Assert.Equal(ConfigErrorKind.PermissionDenied, await Outcome(new ClientCaller(foreign.AccessKey, null, AuthEnabled: true)));
        Assert.Equal(ConfigErrorKind.PermissionDenied, await Outcome(new ClientCaller(null, "erin", AuthEnabled: true) { Person = erin }));
        Assert.Equal(ConfigErrorKind.PermissionDenied, await Outcome(new ClientCaller(null, "erin", AuthEnabled: true)));
        Assert.Null(await Outcome(new ClientCaller(null, "root", AuthEnabled: true) { Person = root }));
        await center.Access.GrantAsync(Alice, app, new AccessGrant("user:erin", ConfigPermission.Reveal, "DEV"), default);
        Assert.Null(await Outcome(new ClientCaller(null, "erin", AuthEnabled: true) { Person = erin }));
        Assert.Equal(ConfigErrorKind.FailedPrecondition, await Outcome(new ClientCaller(null, "erin", AuthEnabled: true) { Person = erin, SecureChannel = false }));
    }

    [Fact]
    public async Task A_secret_json_namespace_is_validated_as_plaintext_and_sealed_whole()
    {
        var center = Center(KeyA);
        var app = await fixture.NewAppAsync();
        await center.CreateNamespaceAsync(app, "DEV", "creds", NamespaceFormat.Json, """{"type":"object","required":["token"]}""", isPublic: false, secret: true, Alice);
        await center.SetContentAsync(app, "DEV", "creds", """{"nope":1}""", 0, Alice);
        var invalid = await Assert.ThrowsAsync<ConfigCenterException>(() => center.PublishAsync(app, "DEV", "creds", "r", null, 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.InvalidDocument, invalid.Kind);

        await center.SetContentAsync(app, "DEV", "creds", """{"token":"t0p-s3cret"}""", 0, Alice);
        var release = await center.PublishAsync(app, "DEV", "creds", "r", null, 0, Alice);
        Assert.True(release.Sealed);
        Assert.StartsWith("sealed:v1:", release.Content, StringComparison.Ordinal);
        Assert.Equal("""{"token":"t0p-s3cret"}""", (await Delivery(KeyA).FetchAsync(app, "DEV", "creds", null, [])).Release.Content);
        Assert.Equal(NamespaceSecrets.Mask, (await center.ViewAsync(await center.GetNamespaceAsync(app, "DEV", "creds"), false, Alice)).Content);
    }

    [Fact]
    public async Task A_ciphertext_moved_to_another_item_or_altered_does_not_open()
    {
        var (app, center) = await SecretItemAsync("moved-" + Guid.NewGuid().ToString("N"));
        var n = await center.Store.NamespaceAsync(app, "DEV", "application", default);
        var key = await center.Secrets.ForReadAsync(n, default);
        var sealedValue = n.Items.Single(i => i.Key == "db.password").Value;

        var moved = Assert.Throws<ConfigCenterException>(() => key.Open("db.user", sealedValue));
        Assert.Equal(ConfigErrorKind.SecretUnavailable, moved.Kind);
        Assert.Contains("sealed for another item", moved.Message, StringComparison.Ordinal);

        // Copied into the stored record of another item, delivery refuses it clearly instead of serving garbage.
        var forged = n with { Items = [.. n.Items.Select(i => i.Key == "db.user" ? i with { Value = sealedValue, Secret = true } : i)] };
        await Port().TxnAsync(new() { Success = { ConfigStore.Put(ConfigKeys.Namespace(app, "DEV", "application"), forged) } });
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => center.PublishAsync(app, "DEV", "application", "forged", null, 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.SecretUnavailable, refused.Kind);

        var chars = sealedValue.ToCharArray();
        chars[^3] = chars[^3] == 'A' ? 'B' : 'A';
        var altered = Assert.Throws<ConfigCenterException>(() => key.Open("db.password", new string(chars)));
        Assert.Equal(ConfigErrorKind.SecretUnavailable, altered.Kind);
    }

    [Fact]
    public async Task A_member_with_another_master_key_or_none_refuses_clearly_and_serves_the_rest()
    {
        var (app, center) = await SecretItemAsync("other-key");
        await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);

        var wrongKey = await Assert.ThrowsAsync<ConfigCenterException>(() => Delivery(KeyB).FetchAsync(app, "DEV", "application", null, []).AsTask());
        Assert.Equal(ConfigErrorKind.SecretUnavailable, wrongKey.Kind);
        Assert.Contains($"does not have master key {LocalMasterKeys.IdOf(KeyA)}", wrongKey.Message, StringComparison.Ordinal);

        var noKey = await Assert.ThrowsAsync<ConfigCenterException>(() => Delivery().FetchAsync(app, "DEV", "application", null, []).AsTask());
        Assert.Equal(ConfigErrorKind.SecretUnavailable, noKey.Kind);
        Assert.Contains("no master key", noKey.Message, StringComparison.Ordinal);

        // Without a master key marking is refused, naming the flag; everything else works.
        var plain = Center();
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => plain.SetItemAsync(app, "DEV", "application", new ConfigItem("api.key", "x", Secret: true), 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains("--config-master-key-file", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--config-master-key-file", (await Assert.ThrowsAsync<ConfigCenterException>(() =>
            plain.CreateNamespaceAsync(app, "DEV", "vault", NamespaceFormat.Text, null, false, secret: true, Alice).AsTask())).Message, StringComparison.Ordinal);
        var other = await fixture.NewAppAsync();
        await plain.CreateNamespaceAsync(other, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await plain.SetItemAsync(other, "DEV", "application", new ConfigItem("k", "v"), 0, Alice);
        await plain.PublishAsync(other, "DEV", "application", "r1", null, 0, Alice);
        Assert.Equal("v", (await Delivery().FetchAsync(other, "DEV", "application", null, [])).Release.Configurations["k"]);
        Assert.Equal(NamespaceSecrets.Mask, (await plain.ViewAsync(await plain.GetNamespaceAsync(app, "DEV", "application"), false, Alice)).Items.Single(i => i.Key == "db.password").Value);
    }

    [Fact]
    public async Task Rotation_rewraps_data_keys_so_the_old_master_key_can_go()
    {
        var (app, center) = await SecretItemAsync("rotated");
        await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);

        var rotated = await Center(KeyB, KeyA).RotateKeysAsync(Alice);
        Assert.Equal(LocalMasterKeys.IdOf(KeyB), rotated.MasterKeyId);
        Assert.True(rotated.Rewrapped >= 1);
        Assert.Empty(rotated.Failed);
        Assert.All((await center.Secrets.RecordAsync(app, "DEV", "application", default))!.Keys, k => Assert.Equal(LocalMasterKeys.IdOf(KeyB), k.MasterKeyId));

        Assert.Equal("rotated", (await Delivery(KeyB).FetchAsync(app, "DEV", "application", null, [])).Release.Configurations["db.password"]);
        var again = await Center(KeyB).RotateKeysAsync(Alice);
        Assert.Equal(0, again.Rewrapped);
        Assert.Contains(await center.AuditAsync(app), a => a.Action == "keys.rotate");
    }

    [Fact]
    public async Task Export_keeps_ciphertext_and_imports_only_where_the_master_key_is()
    {
        var marker = "exp-" + Guid.NewGuid().ToString("N");
        var (app, center) = await SecretItemAsync(marker);
        var transfer = new ConfigTransferService(Port(), masterKeys: new LocalMasterKeys([KeyA]), canReveal: center.CanRevealAsync);
        var export = await transfer.ExportAsync(app, "DEV", "application");
        var text = Encoding.UTF8.GetString(ConfigJson.Encode(export).Span);
        Assert.DoesNotContain(marker, text, StringComparison.Ordinal);
        Assert.Contains("sealed:v1:", text, StringComparison.Ordinal);

        await center.CreateEnvironmentAsync(app, "FAT", Alice);
        var imported = await transfer.ImportAsync(app, export, "FAT", overwrite: false, dryRun: false, Alice);
        Assert.Equal(ImportAction.Created, Assert.Single(imported.Namespaces).Action);
        await center.PublishAsync(app, "FAT", "application", "r1", null, 0, Alice);
        Assert.Equal(marker, (await Delivery(KeyA).FetchAsync(app, "FAT", "application", null, [])).Release.Configurations["db.password"]);
        var fat = await center.Store.NamespaceAsync(app, "FAT", "application", default);
        Assert.DoesNotContain(marker, fat.Items.Single(i => i.Key == "db.password").Value, StringComparison.Ordinal);

        // Another cluster's master key: refused, saying why.
        await center.CreateEnvironmentAsync(app, "UAT", Alice);
        var elsewhere = await new ConfigTransferService(Port(), masterKeys: new LocalMasterKeys([KeyB]), canReveal: center.CanRevealAsync).ImportAsync(app, export, "UAT", false, false, Alice);
        var outcome = Assert.Single(elsewhere.Namespaces);
        Assert.Equal(ImportAction.Invalid, outcome.Action);
        Assert.Contains("master key", outcome.Detail, StringComparison.Ordinal);

        // Into another namespace without the reveal permission on the source: refused. bob owns the target app (so may
        // import there) but holds nothing in the source app.
        var bob = new ChangeContext("bob") { Enforced = true };
        var bobs = app + "-bob";
        await center.CreateAppAsync(bobs, null, null, bob);
        await center.CreateEnvironmentAsync(bobs, "UAT", bob);
        var denied = await transfer.ImportAsync(bobs, export, "UAT", false, false, bob);
        Assert.Contains("reveal", Assert.Single(denied.Namespaces).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sealed_value_parser_refuses_random_and_mutated_input_clearly()
    {
        var (app, center) = await SecretItemAsync("fuzz-" + Guid.NewGuid().ToString("N"));
        var n = await center.Store.NamespaceAsync(app, "DEV", "application", default);
        var key = await center.Secrets.ForReadAsync(n, default);
        var valid = n.Items.Single(i => i.Key == "db.password").Value;
        var random = new Random(2115);
        const string alphabet = "sealed:v1:0123456789-_ABCxyz=+/ \n\u00e9\0";
        for (var round = 0; round < 20_000; round++)
        {
            var chars = valid.ToCharArray().ToList();
            switch (random.Next(5))
            {
                case 0:
                    chars[random.Next(chars.Count)] = alphabet[random.Next(alphabet.Length)];
                    break;
                case 1:
                    var at = random.Next(chars.Count);
                    chars.RemoveRange(at, Math.Min(chars.Count - at, 1 + random.Next(8)));
                    break;
                case 2:
                    chars.Insert(random.Next(chars.Count + 1), alphabet[random.Next(alphabet.Length)]);
                    break;
                case 3:
                    chars = [.. "sealed:v1:"[..random.Next(11)] + new string(Enumerable.Range(0, random.Next(80)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray())];
                    break;
                default:
                    chars = [.. new string(Enumerable.Range(0, random.Next(120)).Select(_ => (char)random.Next(0, 0x3000)).ToArray())];
                    break;
            }

            var text = new string([.. chars]);
            var parsed = SealedValue.TryParse(text, out _, out var error);
            Assert.True(parsed || error.Length > 0, "a refusal says why");
            if (text == valid)
            {
                continue;
            }

            try
            {
                var opened = key.Open("db.password", text);
                Assert.Fail($"a mutated value opened (to {opened.Length} chars): {text}");
            }
            catch (ConfigCenterException e)
            {
                Assert.Equal(ConfigErrorKind.SecretUnavailable, e.Kind);
                Assert.Contains("db.password", e.Message, StringComparison.Ordinal);
            }
        }
    }
}

using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>App credentials (ADR 0015 decision 5) over a real member's keyspace: the limit, the secret, revocation, audit.</summary>
public sealed class CredentialServiceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private LocalKeyValuePort Port() => fixture.NewPort();

    private CredentialService Credentials() => new(Port());

    private static ClientCaller With(string? key) => new(key, null, AuthEnabled: false);

    [Fact]
    public async Task The_secret_is_shown_once_and_only_its_hash_is_stored()
    {
        var app = await fixture.NewAppAsync();
        var credentials = Credentials();
        var issued = await credentials.CreateAsync(app, "DEV", "orders pods", Alice);
        Assert.True(AccessKey.TryParse(issued.AccessKey, out var id, out var secret));
        Assert.Equal(id, issued.Credential.Id);
        Assert.Equal(issued.AccessKey[^4..], issued.Credential.Hint);
        var secretText = issued.AccessKey[(AccessKey.IdLength + 1)..];

        // The list never shows it again: id, name, the last four characters, who and when.
        var listed = Assert.Single(await credentials.ListAsync(app, "DEV", Alice));
        Assert.Equal(issued.Credential, listed);
        Assert.DoesNotContain(secretText, System.Text.Json.JsonSerializer.Serialize(listed, ConfigJsonContext.Default.CredentialView));

        // The keyspace holds the SHA-256 of the secret, never the secret (not in the record, not in the audit).
        var all = await Port().RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(ConfigKeys.Root), RangeEnd = ConfigKeys.PrefixEnd(Google.Protobuf.ByteString.CopyFromUtf8(ConfigKeys.Root)) });
        var dump = string.Join("\n", all.Kvs.Select(kv => kv.Key.ToStringUtf8() + "=" + kv.Value.ToStringUtf8()));
        Assert.DoesNotContain(secretText, dump);
        Assert.DoesNotContain(issued.AccessKey, dump);
        var stored = ConfigJson.Decode<AppCredential>(all.Kvs.Single(kv => kv.Key == ConfigKeys.Credential(app, "DEV", id)).Value);
        Assert.Equal(AccessKey.Hash(secret), stored.SecretHash);

        // The key is accepted; the same id with another secret is not (the constant-time compare's refusal).
        var access = await credentials.AuthorizeAsync(With(issued.AccessKey), app, "DEV", ["application"]);
        Assert.Equal(id, access.Credential!.Id);
        var forged = AccessKey.Format(id, System.Security.Cryptography.RandomNumberGenerator.GetBytes(AccessKey.SecretBytes));
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.AuthorizeAsync(With(forged), app, "DEV", ["application"]));
        Assert.Equal(ConfigErrorKind.Unauthenticated, refused.Kind);
    }

    [Fact]
    public async Task At_most_two_are_active_and_a_revoked_one_makes_room_for_the_rotation()
    {
        var app = await fixture.NewAppAsync();
        var credentials = Credentials();
        var first = await credentials.CreateAsync(app, "DEV", "v1", Alice);
        var second = await credentials.CreateAsync(app, "DEV", "v2", Alice);

        var third = await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.CreateAsync(app, "DEV", "v3", Alice));
        Assert.Equal(ConfigErrorKind.FailedPrecondition, third.Kind);
        Assert.Contains(first.Credential.Id, third.Message);
        Assert.Contains(second.Credential.Id, third.Message);
        Assert.Contains("rotate", third.Message);

        // Another environment has its own two.
        await fixture.Center.CreateEnvironmentAsync(app, "PRO", Alice);
        await credentials.CreateAsync(app, "PRO", "pro", Alice);

        var revoked = await credentials.RevokeAsync(app, "DEV", first.Credential.Id, Alice);
        Assert.False(revoked.Active);
        Assert.Equal("alice", revoked.RevokedBy);
        var again = await credentials.RevokeAsync(app, "DEV", first.Credential.Id, Alice);
        Assert.Equal(revoked.RevokedAt, again.RevokedAt);

        var rotated = await credentials.CreateAsync(app, "DEV", "v3", Alice);
        Assert.Equal(3, (await credentials.ListAsync(app, "DEV", Alice)).Count);
        Assert.Equal(2, (await credentials.ListAsync(app, "DEV", Alice)).Count(c => c.Active));

        var refused = await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.AuthorizeAsync(With(first.AccessKey), app, "DEV", ["application"]));
        Assert.Equal(ConfigErrorKind.Unauthenticated, refused.Kind);
        Assert.Contains("revoked", refused.Message);
        await credentials.AuthorizeAsync(With(rotated.AccessKey), app, "DEV", ["application"]);
        await credentials.AuthorizeAsync(With(second.AccessKey), app, "DEV", ["application"]);
    }

    [Fact]
    public async Task Concurrent_creates_never_make_a_third_active_credential()
    {
        var app = await fixture.NewAppAsync();
        var credentials = Credentials();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            try
            {
                await credentials.CreateAsync(app, "DEV", $"racer {i}", Alice);
                return true;
            }
            catch (ConfigCenterException e) when (e.Kind is ConfigErrorKind.FailedPrecondition or ConfigErrorKind.Conflict)
            {
                return false;
            }
        }));

        Assert.InRange(attempts.Count(ok => ok), 1, CredentialService.MaxActive);
        Assert.InRange((await credentials.ListAsync(app, "DEV", Alice)).Count(c => c.Active), 1, CredentialService.MaxActive);
    }

    [Fact]
    public async Task Create_and_revoke_write_their_audit_entries()
    {
        var app = await fixture.NewAppAsync();
        var credentials = Credentials();
        var issued = await credentials.CreateAsync(app, "DEV", "ci", Alice);
        await credentials.RevokeAsync(app, "DEV", issued.Credential.Id, new ChangeContext("bob", "10.0.0.2:5000"));

        var audit = await fixture.Center.AuditAsync(app);
        var create = Assert.Single(audit, a => a.Action == "credential.create");
        Assert.Equal($"{app}/DEV/{issued.Credential.Id}", create.Target);
        Assert.Equal("alice", create.Author);
        var revoke = Assert.Single(audit, a => a.Action == "credential.revoke");
        Assert.Equal("bob", revoke.Author);
        Assert.Equal("10.0.0.2:5000", revoke.From);
    }

    [Fact]
    public async Task With_auth_enabled_only_the_owner_or_root_manages_credentials()
    {
        var app = await fixture.NewAppAsync(); // owner "team"
        var credentials = Credentials();
        var bob = new ChangeContext("bob") { Enforced = true };
        var denied = await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.CreateAsync(app, "DEV", null, bob));
        Assert.Equal(ConfigErrorKind.PermissionDenied, denied.Kind);
        Assert.Contains(app, denied.Message);
        Assert.Equal(ConfigErrorKind.PermissionDenied, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.ListAsync(app, "DEV", bob))).Kind);
        Assert.Empty(await credentials.ListAsync(app, "DEV", Alice));

        var issued = await credentials.CreateAsync(app, "DEV", null, new ChangeContext("team") { Enforced = true });
        await credentials.RevokeAsync(app, "DEV", issued.Credential.Id, new ChangeContext("root") { Enforced = true, IsAdmin = true });
        Assert.Equal(ConfigErrorKind.PermissionDenied, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.RevokeAsync(app, "DEV", issued.Credential.Id, bob))).Kind);
    }

    [Fact]
    public async Task Bad_input_is_refused_naming_the_field()
    {
        var app = await fixture.NewAppAsync();
        var credentials = Credentials();
        Assert.Equal(ConfigErrorKind.NotFound, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.CreateAsync(app, "NOPE", null, Alice))).Kind);
        Assert.Equal(ConfigErrorKind.NotFound, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.CreateAsync("no-such-app", "DEV", null, Alice))).Kind);
        Assert.Equal(ConfigErrorKind.InvalidArgument, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.CreateAsync(app, "DEV", new string('x', 201), Alice))).Kind);
        Assert.Equal(ConfigErrorKind.InvalidArgument, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.RevokeAsync(app, "DEV", "../etc", Alice))).Kind);
        Assert.Equal(ConfigErrorKind.NotFound, (await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.RevokeAsync(app, "DEV", "AAAAAAAAAAAA", Alice))).Kind);
        var malformed = await Assert.ThrowsAsync<ConfigCenterException>(async () => await credentials.AuthorizeAsync(With("not-a-key"), app, "DEV", ["application"]));
        Assert.Equal(ConfigErrorKind.Unauthenticated, malformed.Kind);
        Assert.Contains("malformed", malformed.Message);
    }
}

using Conclave.Api.Auth;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Security.Auth;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// The cluster's simple tokens (ADR 0014): any member checks a token any member issued; a token ends with its TTL,
/// with its user's deletion or password change, and when auth is enabled again; the parser of this untrusted text
/// refuses every mutation of a token and any garbage with etcd's "invalid auth token", never another failure.
/// </summary>
public sealed class SimpleTokensTests : IDisposable
{
    private readonly KeyValueStore store = new();
    private readonly ManualClock clock = new();
    private long index;

    public SimpleTokensTests()
    {
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "root", HashedPassword = Hash } });
        Apply(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } });
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "alice", HashedPassword = Hash } });
        Apply(new AuthCommand { Enable = new AuthEnable { TokenKey = ByteString.CopyFrom(Enumerable.Range(0, 32).Select(static i => (byte)i).ToArray()) } });
    }

    private const string Hash = "$2a$04$abcdefghijklmnopqrstuuDq3Qm7gSbV2tG8yVxkYd8Ev3qGQ8Xh2";

    public void Dispose() => store.Dispose();

    private void Apply(AuthCommand change)
    {
        var result = store.Apply(++index, KeyValueStore.Encode([new Command { Auth = change, User = "root" }]))[0];
        Assert.IsNotType<ConclaveErrorException>(result);
    }

    private SimpleTokens Member(TimeSpan? ttl = null) => new(new AuthSettings { TokenTtl = ttl ?? TimeSpan.FromMinutes(5) }, clock);

    private static void Invalid(Action check) => Assert.Equal(ErrorCode.InvalidAuthToken, Assert.Throws<ConclaveErrorException>(check).Code);

    [Fact]
    public void A_token_from_one_member_holds_on_another_until_it_expires()
    {
        var token = Member().Issue(store.Auth, store.Auth.FindUser("alice")!);
        Assert.Equal("alice", Member().Validate(store.Auth, token));
        clock.Advance(TimeSpan.FromMinutes(5));
        Invalid(() => Member().Validate(store.Auth, token));
    }

    [Fact]
    public void A_token_in_use_stays_good_on_the_member_that_sees_it_used_as_etcds_simple_tokens()
    {
        var issuer = Member();
        var token = issuer.Issue(store.Auth, store.Auth.FindUser("alice")!);
        var busy = Member();
        var idle = Member();
        for (var minute = 0; minute < 8; minute++)
        {
            Assert.Equal("alice", busy.Validate(store.Auth, token));
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        // Used every minute, so good on the busy member three minutes past its expiry; the idle member never saw it used.
        Assert.Equal("alice", busy.Validate(store.Auth, token));
        Invalid(() => idle.Validate(store.Auth, token));

        // Unused for a TTL, it ends there too.
        clock.Advance(TimeSpan.FromMinutes(5));
        Invalid(() => busy.Validate(store.Auth, token));
    }

    [Fact]
    public void A_password_change_a_deleted_user_or_auth_enabled_again_ends_the_token()
    {
        var tokens = Member();
        var token = tokens.Issue(store.Auth, store.Auth.FindUser("alice")!);
        Apply(new AuthCommand { UserChangePassword = new AuthUserChangePasswordRequest { Name = "alice", HashedPassword = Hash } });
        Invalid(() => tokens.Validate(store.Auth, token));

        token = tokens.Issue(store.Auth, store.Auth.FindUser("alice")!);
        Assert.Equal("alice", tokens.Validate(store.Auth, token));
        Apply(new AuthCommand { UserDelete = new AuthUserDeleteRequest { Name = "alice" } });
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "alice", HashedPassword = Hash } });
        Invalid(() => tokens.Validate(store.Auth, token)); // the same name again is another user

        token = tokens.Issue(store.Auth, store.Auth.FindUser("alice")!);
        Apply(new AuthCommand { Disable = new AuthDisableRequest() });
        Apply(new AuthCommand { Enable = new AuthEnable { TokenKey = ByteString.CopyFrom(new byte[32]) } });
        Invalid(() => tokens.Validate(store.Auth, token));
    }

    [Fact]
    public void An_OIDC_session_names_its_user_and_groups_on_every_member_and_ends_at_its_TTL_however_used()
    {
        var session = Member().IssueExternal(store.Auth, "carol", ["config-editors", "ops"]);
        var other = Member();
        var identity = other.ValidateSession(store.Auth, session);
        Assert.Equal(("carol", SessionIdentity.Oidc), (identity.Name, identity.Provider));
        Assert.Equal(["config-editors", "ops"], identity.Groups);

        // Not an etcd user's token: the gRPC services and the gateway refuse it.
        Assert.Contains("OpenID Connect", Assert.Throws<ConclaveErrorException>(() => other.Validate(store.Auth, session)).Message, StringComparison.Ordinal);

        // Used all along, it still ends at its TTL (nothing else would end it).
        for (var i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            other.ValidateSession(store.Auth, session);
        }

        clock.Advance(TimeSpan.FromMinutes(1));
        Invalid(() => other.ValidateSession(store.Auth, session));

        // A local user added with the name takes it over: the provider's session under it ends.
        var alice = Member().IssueExternal(store.Auth, "bob", []);
        Apply(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "bob", HashedPassword = Hash } });
        Invalid(() => Member().ValidateSession(store.Auth, alice));

        // Every bit of the session is signed: a flipped byte anywhere is refused.
        var fresh = Member().IssueExternal(store.Auth, "carol", ["g"]);
        var random = new Random(21);
        for (var i = 0; i < 2000; i++)
        {
            var chars = fresh.ToCharArray();
            chars[random.Next(chars.Length)] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."[random.Next(65)];
            var mutated = new string(chars);
            if (mutated != fresh)
            {
                // Canonical base64url only: any other text is refused.
                Invalid(() => Member().ValidateSession(store.Auth, mutated));
            }
        }

        // Too many groups do not fit a cookie: refused at sign-in, not cut.
        Assert.Throws<ArgumentException>(() => Member().IssueExternal(store.Auth, "carol", [.. Enumerable.Range(0, SimpleTokens.MaxExternalGroups + 1).Select(static i => $"g{i}")]));
    }

    [Fact]
    public void Mutated_tokens_and_garbage_are_refused_as_invalid_tokens_and_nothing_else()
    {
        var tokens = Member();
        var token = tokens.Issue(store.Auth, store.Auth.FindUser("alice")!);
        foreach (var mutated in TokenMutations.Of(token, seed: 20261206, count: 20_000, maxGarbage: 700))
        {
            Invalid(() => tokens.Validate(store.Auth, mutated));
        }
    }
}

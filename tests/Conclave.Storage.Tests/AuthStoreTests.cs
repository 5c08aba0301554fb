using Conclave.Api.Auth;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage.Auth;
using Google.Protobuf;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

/// <summary>
/// The auth store as replicated state (ADR 0014): etcd's rules and errors for users, roles and permissions; every
/// client command checked where it is applied, against the store at that point of the log; snapshots carry it.
/// </summary>
public sealed class AuthStoreTests : IDisposable
{
    private static readonly ByteString TokenKey = ByteString.CopyFrom(new byte[32]);
    private readonly StoreDriver d = new();

    public void Dispose() => d.Dispose();

    private object? AsRoot(AuthCommand change) => d.Apply(new Command { Auth = change, User = "root" });

    private object? As(string user, AuthCommand change) => d.Apply(new Command { Auth = change, User = user });

    private static AuthCommand AddUser(string name, bool noPassword = false) => new()
    {
        UserAdd = new AuthUserAddRequest { Name = name, HashedPassword = noPassword ? "" : "$2a$10$abcdefghijklmnopqrstuuDq3Qm7gSbV2tG8yVxkYd8Ev3qGQ8Xh2", Options = new UserAddOptions { NoPassword = noPassword } },
    };

    private static AuthCommand Grant(string user, string role) => new() { UserGrantRole = new AuthUserGrantRoleRequest { User = user, Role = role } };

    private static AuthCommand AddRole(string name) => new() { RoleAdd = new AuthRoleAddRequest { Name = name } };

    private static AuthCommand Permit(string role, Permission.Types.Type type, string key, string end = "") => new()
    {
        RoleGrantPermission = new AuthRoleGrantPermissionRequest { Name = role, Perm = new Permission { PermType = type, Key = B(key), RangeEnd = B(end) } },
    };

    private static AuthCommand Enable() => new() { Enable = new AuthEnable { TokenKey = TokenKey } };

    /// <summary>root (with the root role), alice with readwrite on prefix "app/" and read on "shared", auth on.</summary>
    private void SetUp()
    {
        foreach (var change in new[]
        {
            AddUser("root"), Grant("root", "root"), AddUser("alice"), AddRole("app"),
            Permit("app", Permission.Types.Type.Readwrite, "app/", "app0"), Permit("app", Permission.Types.Type.Read, "shared"), Grant("alice", "app"), Enable(),
        })
        {
            Assert.IsAssignableFrom<IMessage>(AsRoot(change));
        }

        Assert.True(d.Store.Auth.Enabled);
    }

    private ErrorCode FailsWith(object? result) => Assert.IsType<ConclaveErrorException>(result).Code;

    [Fact]
    public void Enabling_needs_a_root_user_with_the_root_role_as_etcd_says()
    {
        Assert.Equal(ErrorCode.RootUserNotExist, FailsWith(AsRoot(Enable())));
        AsRoot(AddUser("root"));
        Assert.Equal(ErrorCode.RootRoleNotExist, FailsWith(AsRoot(Enable())));

        // The root role exists implicitly: it can be granted before anyone adds it (etcdctl adds it anyway).
        Assert.IsType<AuthUserGrantRoleResponse>(AsRoot(Grant("root", "root")));
        Assert.IsType<AuthEnableResponse>(AsRoot(Enable()));
        Assert.True(d.Store.Auth.Enabled);

        // Now only root may manage; a user without the root role, an unknown user or no user are refused.
        AsRoot(AddUser("bob"));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(As("bob", AddRole("x"))));
        Assert.Equal(ErrorCode.UserNotFound, FailsWith(As("nobody", AddRole("x"))));
        Assert.Equal(ErrorCode.UserEmpty, FailsWith(As("", AddRole("x"))));
        Assert.Equal(ErrorCode.InvalidAuthManagement, FailsWith(AsRoot(new AuthCommand { UserDelete = new AuthUserDeleteRequest { Name = "root" } })));
        Assert.Equal(ErrorCode.InvalidAuthManagement, FailsWith(AsRoot(new AuthCommand { UserRevokeRole = new AuthUserRevokeRoleRequest { Name = "root", Role = "root" } })));
    }

    [Fact]
    public void User_and_role_changes_answer_with_etcds_errors()
    {
        AsRoot(AddUser("a"));
        Assert.Equal(ErrorCode.UserAlreadyExists, FailsWith(AsRoot(AddUser("a"))));
        Assert.Equal(ErrorCode.UserEmpty, FailsWith(AsRoot(AddUser(""))));
        Assert.Equal(ErrorCode.RoleEmpty, FailsWith(AsRoot(AddRole(""))));
        AsRoot(AddRole("r"));
        Assert.Equal(ErrorCode.RoleAlreadyExists, FailsWith(AsRoot(AddRole("r"))));
        Assert.Equal(ErrorCode.RoleNotFound, FailsWith(AsRoot(Grant("a", "missing"))));
        Assert.Equal(ErrorCode.UserNotFound, FailsWith(AsRoot(Grant("missing", "r"))));
        Assert.Equal(ErrorCode.RoleNotGranted, FailsWith(AsRoot(new AuthCommand { UserRevokeRole = new AuthUserRevokeRoleRequest { Name = "a", Role = "r" } })));
        Assert.Equal(ErrorCode.PermissionNotGranted, FailsWith(AsRoot(new AuthCommand { RoleRevokePermission = new AuthRoleRevokePermissionRequest { Role = "r", Key = B("k") } })));

        // Granting again changes nothing (no new revision); deleting a role takes it from its users.
        AsRoot(Grant("a", "r"));
        var revision = d.Store.Auth.Revision;
        AsRoot(Grant("a", "r"));
        Assert.Equal(revision, d.Store.Auth.Revision);
        AsRoot(new AuthCommand { RoleDelete = new AuthRoleDeleteRequest { Role = "r" } });
        Assert.Empty(d.Store.Auth.FindUser("a")!.Roles);

        // A password is required unless the user signs in by certificate only.
        Assert.Equal(ErrorCode.InvalidArgument, FailsWith(AsRoot(new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "p" } })));
        Assert.IsType<AuthUserAddResponse>(AsRoot(AddUser("cert-only", noPassword: true)));
    }

    [Fact]
    public void A_permission_granted_again_takes_the_new_type_and_permissions_stay_sorted()
    {
        AsRoot(AddRole("r"));
        AsRoot(Permit("r", Permission.Types.Type.Read, "b"));
        AsRoot(Permit("r", Permission.Types.Type.Read, "a", "c"));
        AsRoot(Permit("r", Permission.Types.Type.Write, "b"));
        var permissions = d.Store.Auth.Roles["r"].Permissions;
        Assert.Equal(["a", "b"], permissions.Select(static p => p.Key.ToStringUtf8()));
        Assert.Equal(Permission.Types.Type.Write, permissions[1].PermType);
    }

    [Fact]
    public void Writes_are_checked_where_they_are_applied_against_the_store_at_that_point()
    {
        SetUp();
        Assert.IsType<PutResponse>(d.Apply(new Command { Put = new PutRequest { Key = B("app/x"), Value = B("1") }, User = "alice" }));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Put = new PutRequest { Key = B("other"), Value = B("1") }, User = "alice" })));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Put = new PutRequest { Key = B("shared"), Value = B("1") }, User = "alice" })));
        Assert.Equal(ErrorCode.UserEmpty, FailsWith(d.Apply(new Command { Put = new PutRequest { Key = B("app/x"), Value = B("1") } })));

        // A delete of a range reaching past the grant is refused whole; the previous values need read as well.
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { DeleteRange = new DeleteRangeRequest { Key = B("app/"), RangeEnd = B("b") }, User = "alice" })));
        Assert.IsType<DeleteRangeResponse>(d.Apply(new Command { DeleteRange = new DeleteRangeRequest { Key = B("app/"), RangeEnd = B("app0"), PrevKv = true }, User = "alice" }));

        // Revoked before the entry is applied: refused on every member alike, whatever the edge saw.
        AsRoot(new AuthCommand { UserRevokeRole = new AuthUserRevokeRoleRequest { Name = "alice", Role = "app" } });
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Put = new PutRequest { Key = B("app/x"), Value = B("2") }, User = "alice" })));
        Assert.Equal(0, d.Get("app/x").Count);

        // The member's own writes are not a user's (an expired lease, an alarm it raised).
        Assert.IsType<PutResponse>(d.Apply(new Command { Put = new PutRequest { Key = B("other"), Value = B("m") }, ByMember = true }));
    }

    [Fact]
    public void A_txn_is_checked_for_every_branch_it_could_take()
    {
        SetUp();
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = B("app/a"), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("app/a"), Value = B("1") } });
        txn.Failure.Add(new RequestOp { RequestPut = new PutRequest { Key = B("secret"), Value = B("1") } });
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Txn = txn, User = "alice" })));
        Assert.Equal(0, d.Get("app/a").Count);

        // Nested txns and compares are checked too.
        var nested = new TxnRequest();
        nested.Success.Add(new RequestOp { RequestTxn = new TxnRequest { Success = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("secret") } } } } });
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Txn = nested, User = "alice" })));
        var compareOutside = new TxnRequest();
        compareOutside.Compare.Add(new Compare { Key = B("secret"), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Txn = compareOutside, User = "alice" })));

        txn.Failure.Clear();
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = B("shared") } });
        Assert.IsType<TxnResponse>(d.Apply(new Command { Txn = txn, User = "alice" }));
    }

    [Fact]
    public void Compaction_alarms_and_leases_need_the_right_user()
    {
        SetUp();
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Compaction = new CompactionRequest { Revision = 1 }, User = "alice" })));
        Assert.IsType<CompactionResponse>(d.Apply(new Command { Compaction = new CompactionRequest { Revision = 1 }, User = "root" }));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command
        {
            Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, Alarm = AlarmType.Nospace },
            User = "alice",
        })));

        // A lease needs a user; revoking it needs write on every key it holds (else the user could delete them so).
        Assert.Equal(ErrorCode.UserEmpty, FailsWith(d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } })));
        Assert.IsType<LeaseGrantResponse>(d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 }, User = "alice" }));
        Assert.IsType<PutResponse>(d.Apply(new Command { Put = new PutRequest { Key = B("shared"), Value = B("v"), Lease = 7 }, User = "root" }));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 7 }, User = "alice" })));
        Assert.Equal(ErrorCode.PermissionDenied, FailsWith(d.Apply(new Command { Put = new PutRequest { Key = B("app/l"), Value = B("v"), Lease = 7 }, User = "alice" })));
        Assert.IsType<LeaseRevokeResponse>(d.Apply(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 7 }, User = "root" }));
    }

    [Fact]
    public void The_auth_store_travels_in_snapshots_byte_for_byte()
    {
        SetUp();
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        using var restored = new KeyValueStore();
        image.Position = 0;
        restored.RestoreSnapshot(image);
        Assert.True(restored.Auth.Enabled);
        Assert.Equal(d.Store.Auth.Revision, restored.Auth.Revision);
        Assert.Equal(d.Store.Auth.TokenKey.ToArray(), restored.Auth.TokenKey.ToArray());
        Assert.Equal(["alice", "root"], restored.Auth.Users.Keys);
        Assert.True(restored.Auth.MayRead("alice", B("app/q").Span, ByteString.Empty.Span));
        Assert.False(restored.Auth.MayRead("alice", B("other").Span, ByteString.Empty.Span));

        // Same state, same bytes: members' images at a snapshot point must match (ADR 0010).
        using var again = new MemoryStream();
        restored.WriteSnapshot(again);
        Assert.Equal(image.ToArray(), again.ToArray());
    }

    [Fact]
    public void An_auth_section_that_enables_auth_without_root_is_refused()
    {
        var snapshot = new AuthSnapshot { Enabled = true, Revision = 3 };
        Assert.Throws<InvalidDataException>(() => AuthStore.Parse(snapshot));
        snapshot.Users.Add(new StoredUser { Name = "x" });
        snapshot.Users.Add(new StoredUser { Name = "x" });
        Assert.Throws<InvalidDataException>(() => AuthStore.Parse(snapshot));
    }

    [Fact]
    public void A_plain_password_never_reaches_the_log()
    {
        var command = new Command { Auth = new AuthCommand { UserAdd = new AuthUserAddRequest { Name = "x", Password = "secret" } } };
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<ConclaveErrorException>(() => CommandShape.Validate(command)).Code);
    }
}

using System.Collections.Immutable;
using Conclave.Api.Auth;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Google.Protobuf;

namespace Conclave.Storage.Auth;

/// <summary>
/// etcd's auth store as replicated state (ADR 0014): users with bcrypt hashes, roles with key-range permissions, the
/// enabled switch and the auth revision. Changed only by <see cref="AuthCommand"/>s applied in log order, with etcd's
/// rules and errors; every change publishes a new immutable <see cref="AuthState"/>. Deterministic: no clock, no
/// randomness (the token key is drawn by the proposing member and carried in the command).
/// </summary>
public sealed class AuthStore
{
    /// <summary>bcrypt reads at most 72 bytes of a password; a longer one would be silently cut, so it is refused.</summary>
    public const int MaxPasswordBytes = 72;

    private AuthState current = AuthState.Initial;

    public AuthState Current => Volatile.Read(ref current);

    /// <summary>
    /// Applies one change as <paramref name="user"/> (null: the member itself, which needs no permission). Returns the
    /// response etcd gives (its header's revision is the caller's to fill).
    /// </summary>
    /// <exception cref="ConclaveErrorException">The change is refused (etcd's error), and the store is unchanged.</exception>
    public IMessage Apply(AuthCommand command, string? user, bool byMember)
    {
        var state = Current;
        if (!byMember)
        {
            state.CheckAdmin(user);
        }

        IMessage response;
        AuthState? next;
        switch (command.ChangeCase)
        {
            case AuthCommand.ChangeOneofCase.Enable:
                (response, next) = (new AuthEnableResponse(), Enable(state, command.Enable));
                break;
            case AuthCommand.ChangeOneofCase.Disable:
                (response, next) = (new AuthDisableResponse(), state.Enabled ? With(state, enabled: false) : null);
                break;
            case AuthCommand.ChangeOneofCase.UserAdd:
                (response, next) = (new AuthUserAddResponse(), UserAdd(state, command.UserAdd));
                break;
            case AuthCommand.ChangeOneofCase.UserDelete:
                (response, next) = (new AuthUserDeleteResponse(), UserDelete(state, command.UserDelete.Name));
                break;
            case AuthCommand.ChangeOneofCase.UserChangePassword:
                (response, next) = (new AuthUserChangePasswordResponse(), ChangePassword(state, command.UserChangePassword));
                break;
            case AuthCommand.ChangeOneofCase.UserGrantRole:
                (response, next) = (new AuthUserGrantRoleResponse(), GrantRole(state, command.UserGrantRole.User, command.UserGrantRole.Role));
                break;
            case AuthCommand.ChangeOneofCase.UserRevokeRole:
                (response, next) = (new AuthUserRevokeRoleResponse(), RevokeRole(state, command.UserRevokeRole.Name, command.UserRevokeRole.Role));
                break;
            case AuthCommand.ChangeOneofCase.RoleAdd:
                (response, next) = (new AuthRoleAddResponse(), RoleAdd(state, command.RoleAdd.Name));
                break;
            case AuthCommand.ChangeOneofCase.RoleDelete:
                (response, next) = (new AuthRoleDeleteResponse(), RoleDelete(state, command.RoleDelete.Role));
                break;
            case AuthCommand.ChangeOneofCase.RoleGrantPermission:
                (response, next) = (new AuthRoleGrantPermissionResponse(), GrantPermission(state, command.RoleGrantPermission));
                break;
            case AuthCommand.ChangeOneofCase.RoleRevokePermission:
                (response, next) = (new AuthRoleRevokePermissionResponse(), RevokePermission(state, command.RoleRevokePermission));
                break;
            default:
                throw new ConclaveErrorException(ErrorCode.InvalidArgument, "auth: the command has no change this build knows");
        }

        if (next is not null)
        {
            Volatile.Write(ref current, next);
        }

        return response;
    }

    /// <summary>Checks what <see cref="Apply"/> cannot check from state: names and passwords a command carries.</summary>
    public static void ValidateShape(AuthCommand command)
    {
        switch (command.ChangeCase)
        {
            case AuthCommand.ChangeOneofCase.Enable:
                if (command.Enable.TokenKey.Length is < 32 or > 64)
                {
                    throw Invalid("auth enable: the token key must be 32 to 64 bytes");
                }

                break;
            case AuthCommand.ChangeOneofCase.UserAdd:
                if (!string.IsNullOrEmpty(command.UserAdd.Password))
                {
                    throw Invalid("auth: a user add reached the log with a plain password (only its hash may)");
                }

                break;
            case AuthCommand.ChangeOneofCase.UserChangePassword:
                if (!string.IsNullOrEmpty(command.UserChangePassword.Password) || string.IsNullOrEmpty(command.UserChangePassword.HashedPassword))
                {
                    throw Invalid("auth: a password change must carry the hash, never the password");
                }

                break;
            case AuthCommand.ChangeOneofCase.None:
                throw Invalid("auth: the command has no change set");
        }
    }

    // ---- changes (each returns the next state, or null when nothing changes) -------------------------------------

    private static AuthState? Enable(AuthState state, AuthEnable enable)
    {
        if (state.Enabled)
        {
            return null;
        }

        var root = state.FindUser(AuthState.RootUser) ?? throw new ConclaveErrorException(ErrorCode.RootUserNotExist,
            "add the user 'root' first (etcdctl user add root), then enable auth");
        if (!root.HasRootRole)
        {
            throw new ConclaveErrorException(ErrorCode.RootRoleNotExist, "grant the role 'root' to the user 'root' first (etcdctl user grant-role root root)");
        }

        return With(state, enabled: true, tokenKey: enable.TokenKey.ToByteArray());
    }

    private static AuthState UserAdd(AuthState state, AuthUserAddRequest r)
    {
        RequireUserName(r.Name);
        if (state.Users.ContainsKey(r.Name))
        {
            throw new ConclaveErrorException(ErrorCode.UserAlreadyExists, $"user '{r.Name}' already exists");
        }

        var noPassword = r.Options?.NoPassword == true;
        if (!noPassword && string.IsNullOrEmpty(r.HashedPassword))
        {
            throw Invalid($"user '{r.Name}': a password is required (or add the user with no password, for certificate sign-in)");
        }

        var revision = state.Revision + 1;
        var user = new AuthUser(r.Name, noPassword ? null : r.HashedPassword, ImmutableSortedSet.Create<string>(StringComparer.Ordinal), noPassword, revision);
        return With(state, users: state.Users.Add(r.Name, user));
    }

    private static AuthState UserDelete(AuthState state, string name)
    {
        RequireUserName(name);
        if (state.Enabled && name == AuthState.RootUser)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidAuthManagement, "the root user cannot be deleted while auth is enabled");
        }

        _ = FindUser(state, name);
        return With(state, users: state.Users.Remove(name));
    }

    private static AuthState ChangePassword(AuthState state, AuthUserChangePasswordRequest r)
    {
        RequireUserName(r.Name);
        var user = FindUser(state, r.Name);
        return With(state, users: state.Users.SetItem(r.Name, user with { PasswordHash = r.HashedPassword, NoPassword = false, CredentialRevision = state.Revision + 1 }));
    }

    private static AuthState? GrantRole(AuthState state, string name, string role)
    {
        RequireUserName(name);
        RequireRoleName(role);
        var user = FindUser(state, name);
        if (role != AuthState.RootRole && !state.Roles.ContainsKey(role))
        {
            throw new ConclaveErrorException(ErrorCode.RoleNotFound, $"role '{role}' does not exist");
        }

        return user.Roles.Contains(role) ? null : With(state, users: state.Users.SetItem(name, user with { Roles = user.Roles.Add(role) }));
    }

    private static AuthState RevokeRole(AuthState state, string name, string role)
    {
        RequireUserName(name);
        if (state.Enabled && name == AuthState.RootUser && role == AuthState.RootRole)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidAuthManagement, "the root role cannot be revoked from the root user while auth is enabled");
        }

        var user = FindUser(state, name);
        if (!user.Roles.Contains(role))
        {
            throw new ConclaveErrorException(ErrorCode.RoleNotGranted, $"user '{name}' does not have role '{role}'");
        }

        return With(state, users: state.Users.SetItem(name, user with { Roles = user.Roles.Remove(role) }));
    }

    private static AuthState RoleAdd(AuthState state, string name)
    {
        RequireRoleName(name);
        if (state.Roles.ContainsKey(name))
        {
            throw new ConclaveErrorException(ErrorCode.RoleAlreadyExists, $"role '{name}' already exists");
        }

        return With(state, roles: state.Roles.Add(name, new AuthRole(name, [])));
    }

    private static AuthState RoleDelete(AuthState state, string name)
    {
        RequireRoleName(name);
        if (state.Enabled && name == AuthState.RootRole)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidAuthManagement, "the root role cannot be deleted while auth is enabled");
        }

        if (!state.Roles.ContainsKey(name))
        {
            throw new ConclaveErrorException(ErrorCode.RoleNotFound, $"role '{name}' does not exist");
        }

        // The role leaves every user that had it (as etcd does).
        var users = state.Users;
        foreach (var (userName, user) in state.Users)
        {
            if (user.Roles.Contains(name))
            {
                users = users.SetItem(userName, user with { Roles = user.Roles.Remove(name) });
            }
        }

        return With(state, users: users, roles: state.Roles.Remove(name));
    }

    private static AuthState GrantPermission(AuthState state, AuthRoleGrantPermissionRequest r)
    {
        RequireRoleName(r.Name);
        if (r.Perm is not { } perm)
        {
            throw Invalid("role grant-permission: no permission given");
        }

        if (!Enum.IsDefined(perm.PermType))
        {
            throw Invalid($"role grant-permission: permission type {(int)perm.PermType} is not read, write or readwrite");
        }

        if (perm.Key.IsEmpty && perm.RangeEnd.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "role grant-permission: a permission needs a key (a prefix of \"\" with --prefix grants every key)");
        }

        var role = state.Roles.GetValueOrDefault(r.Name) ?? throw new ConclaveErrorException(ErrorCode.RoleNotFound, $"role '{r.Name}' does not exist");
        var granted = new Permission { PermType = perm.PermType, Key = perm.Key, RangeEnd = perm.RangeEnd };

        // The same range granted again takes the new type (etcd's behaviour); otherwise the list stays sorted.
        var permissions = role.Permissions.RemoveAll(p => p.Key.Equals(perm.Key) && p.RangeEnd.Equals(perm.RangeEnd)).Add(granted)
            .Sort(static (a, b) => ComparePermissions(a, b));
        return With(state, roles: state.Roles.SetItem(r.Name, role with { Permissions = permissions }));
    }

    private static AuthState RevokePermission(AuthState state, AuthRoleRevokePermissionRequest r)
    {
        RequireRoleName(r.Role);
        var role = state.Roles.GetValueOrDefault(r.Role) ?? throw new ConclaveErrorException(ErrorCode.RoleNotFound, $"role '{r.Role}' does not exist");
        var remaining = role.Permissions.RemoveAll(p => p.Key.Equals(r.Key) && p.RangeEnd.Equals(r.RangeEnd));
        if (remaining.Length == role.Permissions.Length)
        {
            throw new ConclaveErrorException(ErrorCode.PermissionNotGranted,
                $"role '{r.Role}' has no permission on ['{r.Key.ToStringUtf8()}', '{r.RangeEnd.ToStringUtf8()}')");
        }

        return With(state, roles: state.Roles.SetItem(r.Role, role with { Permissions = remaining }));
    }

    private static int ComparePermissions(Permission a, Permission b)
    {
        var byKey = a.Key.Span.SequenceCompareTo(b.Key.Span);
        return byKey != 0 ? byKey : a.RangeEnd.Span.SequenceCompareTo(b.RangeEnd.Span);
    }

    private static AuthUser FindUser(AuthState state, string name) =>
        state.FindUser(name) ?? throw new ConclaveErrorException(ErrorCode.UserNotFound, $"user '{name}' does not exist");

    private static void RequireUserName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ConclaveErrorException(ErrorCode.UserEmpty, "the request names no user");
        }
    }

    private static void RequireRoleName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ConclaveErrorException(ErrorCode.RoleEmpty, "the request names no role");
        }
    }

    private static AuthState With(AuthState state, bool? enabled = null, byte[]? tokenKey = null,
        ImmutableSortedDictionary<string, AuthUser>? users = null, ImmutableSortedDictionary<string, AuthRole>? roles = null) =>
        new(enabled ?? state.Enabled, state.Revision + 1, tokenKey ?? state.TokenKey.ToArray(), users ?? state.Users, roles ?? state.Roles);

    private static ConclaveErrorException Invalid(string detail) => new(ErrorCode.InvalidArgument, detail);

    // ---- snapshots ---------------------------------------------------------------------------------------------

    /// <summary>The state as a snapshot holds it: users and roles in name order, so equal states give equal bytes.</summary>
    public AuthSnapshot ToSnapshot()
    {
        var state = Current;
        var snapshot = new AuthSnapshot { Enabled = state.Enabled, Revision = state.Revision, TokenKey = ByteString.CopyFrom(state.TokenKey.Span) };
        foreach (var user in state.Users.Values)
        {
            var stored = new StoredUser { Name = user.Name, PasswordHash = user.PasswordHash ?? "", NoPassword = user.NoPassword, CredentialRevision = user.CredentialRevision };
            stored.Roles.AddRange(user.Roles);
            snapshot.Users.Add(stored);
        }

        foreach (var role in state.Roles.Values)
        {
            var stored = new Role { Name = ByteString.CopyFromUtf8(role.Name) };
            stored.KeyPermission.AddRange(role.Permissions);
            snapshot.Roles.Add(stored);
        }

        return snapshot;
    }

    /// <summary>Checks an image's auth section whole; the state is replaced by <see cref="Restore"/>.</summary>
    /// <exception cref="InvalidDataException">Repeated or empty names, an unknown permission type, a negative revision.</exception>
    public static AuthState Parse(AuthSnapshot snapshot)
    {
        if (snapshot.Revision < 0)
        {
            throw new InvalidDataException($"snapshot auth revision is negative ({snapshot.Revision})");
        }

        var users = ImmutableSortedDictionary.CreateBuilder<string, AuthUser>(StringComparer.Ordinal);
        foreach (var u in snapshot.Users)
        {
            if (string.IsNullOrEmpty(u.Name) || users.ContainsKey(u.Name))
            {
                throw new InvalidDataException($"snapshot auth user '{u.Name}' is empty or repeated");
            }

            users.Add(u.Name, new AuthUser(u.Name, u.PasswordHash.Length == 0 ? null : u.PasswordHash,
                ImmutableSortedSet.CreateRange(StringComparer.Ordinal, u.Roles), u.NoPassword, u.CredentialRevision));
        }

        var roles = ImmutableSortedDictionary.CreateBuilder<string, AuthRole>(StringComparer.Ordinal);
        foreach (var r in snapshot.Roles)
        {
            var name = r.Name.ToStringUtf8();
            if (name.Length == 0 || roles.ContainsKey(name) || r.KeyPermission.Any(static p => !Enum.IsDefined(p.PermType)))
            {
                throw new InvalidDataException($"snapshot auth role '{name}' is empty, repeated or has an unknown permission type");
            }

            roles.Add(name, new AuthRole(name, [.. r.KeyPermission.Order(Comparer<Permission>.Create(ComparePermissions))]));
        }

        if (snapshot.Enabled && users.GetValueOrDefault(AuthState.RootUser)?.HasRootRole != true)
        {
            throw new InvalidDataException("snapshot auth section is enabled without a root user holding the root role");
        }

        return new AuthState(snapshot.Enabled, snapshot.Revision, snapshot.TokenKey.ToByteArray(), users.ToImmutable(), roles.ToImmutable());
    }

    public void Restore(AuthState state) => Volatile.Write(ref current, state);
}

using System.Security.Cryptography;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Node;
using Conclave.Server.Security.Auth;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// etcd's Auth service (ADR 0014): changes go through the log as <see cref="AuthCommand"/>s and are checked there (the
/// root role, etcd's rules), reads are linearizable and served from the applied auth store. Passwords are hashed here,
/// on the member that receives them; the log and snapshots hold only bcrypt hashes.
/// </summary>
internal sealed class AuthService(ConclaveNode node, Authenticator authenticator, Passwords passwords, IAuthTokens tokens) : Auth.AuthBase
{
    public override async Task<AuthEnableResponse> AuthEnable(AuthEnableRequest request, ServerCallContext context)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        return await ChangeAsync<AuthEnableResponse>(new AuthCommand { Enable = new AuthEnable { TokenKey = ByteString.CopyFrom(key) } }, context, static (r, h) => r.Header = h);
    }

    public override Task<AuthDisableResponse> AuthDisable(AuthDisableRequest request, ServerCallContext context) =>
        ChangeAsync<AuthDisableResponse>(new AuthCommand { Disable = request }, context, static (r, h) => r.Header = h);

    public override async Task<AuthStatusResponse> AuthStatus(AuthStatusRequest request, ServerCallContext context)
    {
        await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        var state = node.Store.Auth;
        return new AuthStatusResponse { Header = node.Header(node.Store.Revision), Enabled = state.Enabled, AuthRevision = (ulong)state.Revision };
    }

    public override Task<AuthenticateResponse> Authenticate(AuthenticateRequest request, ServerCallContext context) =>
        AuthenticateAsync(node, passwords, tokens, request, context.CancellationToken);

    /// <summary>Checks a user's password and issues a token (gRPC and the JSON gateway).</summary>
    internal static async Task<AuthenticateResponse> AuthenticateAsync(ConclaveNode node, Passwords passwords, IAuthTokens tokens, AuthenticateRequest request, CancellationToken cancellationToken)
    {
        await node.Consensus.ReadBarrierAsync(cancellationToken);
        var state = node.Store.Auth;
        if (!state.Enabled)
        {
            throw new ConclaveErrorException(ErrorCode.AuthNotEnabled, "enable auth first (etcdctl auth enable)");
        }

        var user = state.FindUser(request.Name);
        if (!await passwords.VerifyAsync(user, request.Password, cancellationToken))
        {
            throw new ConclaveErrorException(ErrorCode.AuthFailed, $"wrong password, or no user '{request.Name}' with a password");
        }

        return new AuthenticateResponse { Header = node.Header(node.Store.Revision), Token = tokens.Issue(state, user!) };
    }

    public override async Task<AuthUserAddResponse> UserAdd(AuthUserAddRequest request, ServerCallContext context)
    {
        CheckAdmin(context);
        var add = new AuthUserAddRequest { Name = request.Name, Options = request.Options };
        if (request.Options?.NoPassword != true)
        {
            add.HashedPassword = !string.IsNullOrEmpty(request.HashedPassword)
                ? Passwords.AcceptHashed(request.HashedPassword)
                : await passwords.HashAsync(request.Password, context.CancellationToken);
        }

        return await ChangeAsync<AuthUserAddResponse>(new AuthCommand { UserAdd = add }, context, static (r, h) => r.Header = h);
    }

    public override async Task<AuthUserGetResponse> UserGet(AuthUserGetRequest request, ServerCallContext context)
    {
        var (state, caller) = await ReadStateAsync(context);
        if (caller != request.Name)
        {
            state.CheckAdmin(caller); // a user may look at itself (etcd)
        }

        var user = state.FindUser(request.Name) ?? throw new ConclaveErrorException(ErrorCode.UserNotFound, $"user '{request.Name}' does not exist");
        var response = new AuthUserGetResponse { Header = node.Header(node.Store.Revision) };
        response.Roles.AddRange(user.Roles);
        return response;
    }

    public override async Task<AuthUserListResponse> UserList(AuthUserListRequest request, ServerCallContext context)
    {
        var (state, caller) = await ReadStateAsync(context);
        state.CheckAdmin(caller);
        var response = new AuthUserListResponse { Header = node.Header(node.Store.Revision) };
        response.Users.AddRange(state.Users.Keys);
        return response;
    }

    public override Task<AuthUserDeleteResponse> UserDelete(AuthUserDeleteRequest request, ServerCallContext context) =>
        ChangeAsync<AuthUserDeleteResponse>(new AuthCommand { UserDelete = request }, context, static (r, h) => r.Header = h);

    public override async Task<AuthUserChangePasswordResponse> UserChangePassword(AuthUserChangePasswordRequest request, ServerCallContext context)
    {
        CheckAdmin(context);
        var hash = !string.IsNullOrEmpty(request.HashedPassword)
            ? Passwords.AcceptHashed(request.HashedPassword)
            : await passwords.HashAsync(request.Password, context.CancellationToken);
        return await ChangeAsync<AuthUserChangePasswordResponse>(
            new AuthCommand { UserChangePassword = new AuthUserChangePasswordRequest { Name = request.Name, HashedPassword = hash } }, context, static (r, h) => r.Header = h);
    }

    public override Task<AuthUserGrantRoleResponse> UserGrantRole(AuthUserGrantRoleRequest request, ServerCallContext context) =>
        ChangeAsync<AuthUserGrantRoleResponse>(new AuthCommand { UserGrantRole = request }, context, static (r, h) => r.Header = h);

    public override Task<AuthUserRevokeRoleResponse> UserRevokeRole(AuthUserRevokeRoleRequest request, ServerCallContext context) =>
        ChangeAsync<AuthUserRevokeRoleResponse>(new AuthCommand { UserRevokeRole = request }, context, static (r, h) => r.Header = h);

    public override Task<AuthRoleAddResponse> RoleAdd(AuthRoleAddRequest request, ServerCallContext context) =>
        ChangeAsync<AuthRoleAddResponse>(new AuthCommand { RoleAdd = request }, context, static (r, h) => r.Header = h);

    public override async Task<AuthRoleGetResponse> RoleGet(AuthRoleGetRequest request, ServerCallContext context)
    {
        var (state, caller) = await ReadStateAsync(context);
        if (state.FindUser(caller)?.Roles.Contains(request.Role) != true)
        {
            state.CheckAdmin(caller); // a user may look at its own roles (etcd)
        }

        var response = new AuthRoleGetResponse { Header = node.Header(node.Store.Revision) };
        if (request.Role == Storage.Auth.AuthState.RootRole && !state.Roles.ContainsKey(request.Role))
        {
            return response; // the root role exists implicitly and lists no permission: it has them all
        }

        var role = state.Roles.GetValueOrDefault(request.Role) ?? throw new ConclaveErrorException(ErrorCode.RoleNotFound, $"role '{request.Role}' does not exist");
        response.Perm.AddRange(role.Permissions);
        return response;
    }

    public override async Task<AuthRoleListResponse> RoleList(AuthRoleListRequest request, ServerCallContext context)
    {
        var (state, caller) = await ReadStateAsync(context);
        state.CheckAdmin(caller);
        var response = new AuthRoleListResponse { Header = node.Header(node.Store.Revision) };
        response.Roles.AddRange(state.Roles.Keys);
        return response;
    }

    public override Task<AuthRoleDeleteResponse> RoleDelete(AuthRoleDeleteRequest request, ServerCallContext context) =>
        ChangeAsync<AuthRoleDeleteResponse>(new AuthCommand { RoleDelete = request }, context, static (r, h) => r.Header = h);

    public override Task<AuthRoleGrantPermissionResponse> RoleGrantPermission(AuthRoleGrantPermissionRequest request, ServerCallContext context) =>
        ChangeAsync<AuthRoleGrantPermissionResponse>(new AuthCommand { RoleGrantPermission = request }, context, static (r, h) => r.Header = h);

    public override Task<AuthRoleRevokePermissionResponse> RoleRevokePermission(AuthRoleRevokePermissionRequest request, ServerCallContext context) =>
        ChangeAsync<AuthRoleRevokePermissionResponse>(new AuthCommand { RoleRevokePermission = request }, context, static (r, h) => r.Header = h);

    /// <summary>The auth store after a read barrier (linearizable, as etcd's auth reads), and who is asking.</summary>
    private async Task<(Storage.Auth.AuthState State, string Caller)> ReadStateAsync(ServerCallContext context)
    {
        await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        return (node.Store.Auth, authenticator.Resolve(context));
    }

    /// <summary>Refuses a non-admin before any work (hashing a password costs); the log checks again, authoritatively.</summary>
    private void CheckAdmin(ServerCallContext context) => node.Store.Auth.CheckAdmin(authenticator.Resolve(context));

    private async Task<T> ChangeAsync<T>(AuthCommand change, ServerCallContext context, Action<T, ResponseHeader> setHeader)
        where T : IMessage
    {
        var user = authenticator.Resolve(context);
        node.Store.Auth.CheckAdmin(user);
        Storage.Auth.AuthStore.ValidateShape(change);
        var response = await node.ProposeAsync<T>(new Command { Auth = change, User = user }, context.CancellationToken);
        setHeader(response, node.Header(node.Store.Revision));
        return response;
    }


}

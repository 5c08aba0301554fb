using Conclave.Api.Errors;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Config;

/// <summary>
/// Who calls a configuration client endpoint (ADR 0015 decision 5): the access key from <c>conclave-access-key</c> (gRPC
/// metadata or HTTP header) or <c>Authorization: ConclaveKey {key}</c>; without one, the signed-in user (a token, as
/// every other call of the member); and whether auth is enabled. The decision is <see cref="CredentialService"/>'s.
/// </summary>
internal sealed class ClientCallers(Node.ConclaveNode node, Security.Auth.Authenticator authenticator)
{
    public ClientCaller Of(ServerCallContext context)
    {
        var enabled = node.Store.Auth.Enabled;
        var secure = IsSecure(context.GetHttpContext());
        var key = context.RequestHeaders.GetValue(AccessKey.Header) ?? AccessKey.FromAuthorization(context.RequestHeaders.GetValue("authorization"));
        if (key is not null)
        {
            return new ClientCaller(key, null, enabled) { SecureChannel = secure };
        }

        try
        {
            var user = enabled ? authenticator.Resolve(context) : null;
            return new ClientCaller(null, user, enabled) { SecureChannel = secure, Person = PersonOf(user) };
        }
        catch (ConclaveErrorException e)
        {
            throw new ConfigCenterException(ConfigErrorKind.Unauthenticated, e.Message);
        }
    }

    /// <summary>The caller of an HTTP client endpoint; its sign-in was checked by <see cref="Security.Auth.HttpSignIn"/>.</summary>
    public ClientCaller Of(HttpContext http)
    {
        var enabled = node.Store.Auth.Enabled;
        var secure = IsSecure(http);
        var key = KeyOf(http.Request);
        if (key is not null)
        {
            return new ClientCaller(key, null, enabled) { SecureChannel = secure };
        }

        var signedIn = Security.Auth.HttpSignIn.IsSignedIn(http);
        return new ClientCaller(null, signedIn ? Security.Auth.HttpSignIn.UserOf(http) : null, enabled)
        {
            SecureChannel = secure,
            Person = signedIn ? ConfigHttpApi.Viewer(http) : null,
        };
    }

    /// <summary>TLS, or a loopback peer (the embedded default and a sidecar): the channels secret values travel on.</summary>
    public static bool IsSecure(HttpContext http) =>
        http.Request.IsHttps || http.Connection.RemoteIpAddress is not { } ip || System.Net.IPAddress.IsLoopback(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip);

    // A gRPC caller's user with the auth store's roles (gRPC calls carry auth-store tokens, never OIDC sessions).
    private ChangeContext? PersonOf(string? user)
    {
        if (string.IsNullOrEmpty(user))
        {
            return null;
        }

        var record = node.Store.Auth.FindUser(user);
        return new ChangeContext(user) { Enforced = true, IsAdmin = record?.HasRootRole == true, Roles = record is null ? [] : [.. record.Roles] };
    }

    /// <summary>The access key an HTTP request carries, if any.</summary>
    public static string? KeyOf(HttpRequest request)
    {
        var header = request.Headers[AccessKey.Header];
        if (header.Count > 0)
        {
            return header[0];
        }

        var authorization = request.Headers.Authorization;
        return authorization.Count == 1 ? AccessKey.FromAuthorization(authorization[0]) : null;
    }

    /// <summary>
    /// Whether <paramref name="path"/> is one of the HTTP client endpoints
    /// (<c>/api/v1/apps/{app}/envs/{env}/namespaces/{ns}/effective</c> or <c>.../reports</c>), which an access key may
    /// call without a sign-in; the endpoint itself checks the key.
    /// </summary>
    public static bool IsClientEndpoint(PathString path)
    {
        var segments = (path.Value ?? "").Split('/');
        // "", "api", "v1", "apps", app, "envs", env, "namespaces", ns, "effective" | "reports"
        return segments.Length == 10 && segments[0].Length == 0 && segments[1] == "api" && segments[2] == "v1" && segments[3] == "apps"
            && segments[5] == "envs" && segments[7] == "namespaces" && segments[9] is "effective" or "reports";
    }
}

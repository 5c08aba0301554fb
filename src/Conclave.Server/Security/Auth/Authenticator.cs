using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// Who is calling (ADR 0014), as etcd decides it: while auth is enabled, a token in the call's <c>token</c> metadata (or
/// <c>authorization</c>, with or without "Bearer ") names the user; without one, under <c>--client-cert-auth</c>, the
/// client certificate's common name does. While auth is disabled every caller is "" and every check passes.
/// </summary>
internal sealed class Authenticator(Node.ConclaveNode node, IAuthTokens tokens)
{
    /// <summary>etcd clients send the token in this metadata entry.</summary>
    public const string TokenMetadata = "token";

    /// <summary>The user of a gRPC call; "" when it gives no identity (the checks then refuse with "user name is empty").</summary>
    /// <exception cref="Api.Errors.ConclaveErrorException">The token is invalid (etcd's "invalid auth token").</exception>
    public string Resolve(ServerCallContext context)
    {
        var state = node.Store.Auth;
        if (!state.Enabled)
        {
            return "";
        }

        var token = context.RequestHeaders.GetValue(TokenMetadata) ?? StripBearer(context.RequestHeaders.GetValue("authorization"));
        return Resolve(state, token, context.GetHttpContext().Connection.ClientCertificate);
    }

    /// <summary>The user of an HTTP request (the JSON gateway: <c>Authorization: &lt;token&gt;</c>, as etcd's gateway).</summary>
    public string Resolve(HttpContext http)
    {
        var state = node.Store.Auth;
        if (!state.Enabled)
        {
            return "";
        }

        var header = http.Request.Headers.Authorization;
        return Resolve(state, header.Count == 1 ? StripBearer(header[0]) : null, http.Connection.ClientCertificate);
    }

    private string Resolve(Storage.Auth.AuthState state, string? token, X509Certificate2? certificate)
    {
        if (!string.IsNullOrEmpty(token))
        {
            return tokens.Validate(state, token);
        }

        // Kestrel asked for and validated the certificate against --trusted-ca-file (ReloadingCertificates).
        if (node.Options.Tls.ClientCertAuth && certificate is not null)
        {
            return certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        }

        return "";
    }

    private static string? StripBearer(string? value) =>
        value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..].Trim() : value;
}

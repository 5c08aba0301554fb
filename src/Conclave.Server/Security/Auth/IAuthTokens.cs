using Conclave.Storage.Auth;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// The tokens <c>Authenticate</c> hands out and every call then carries (<c>--auth-token</c>): <see cref="SimpleTokens"/>
/// (the default) or <see cref="JwtTokens"/>. Any member checks a token any member issued.
/// </summary>
internal interface IAuthTokens
{
    /// <summary>How long a token is good for after it is issued (the console's session cookie lives as long).</summary>
    TimeSpan Ttl { get; }

    /// <summary>A token naming <paramref name="user"/>, valid for <see cref="Ttl"/>.</summary>
    /// <exception cref="Api.Errors.ConclaveErrorException">This member cannot issue tokens (a verify-only JWT key).</exception>
    string Issue(AuthState state, AuthUser user);

    /// <summary>The user a token names, if it is valid now.</summary>
    /// <exception cref="Api.Errors.ConclaveErrorException"><see cref="Api.Errors.ErrorCode.InvalidAuthToken"/>: malformed, forged, expired, or its user changed.</exception>
    string Validate(AuthState state, string token);
}

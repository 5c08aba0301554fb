using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Conclave.Api.Errors;
using Conclave.Storage.Auth;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// etcd's "simple" tokens, made checkable by every member (ADR 0014): a token names the user, when it expires and the
/// user's credential revision, and is signed (HMAC-SHA-256) with the cluster's token key from the replicated auth
/// store. etcd's simple tokens live in one member's memory, so a client that fails over must sign in again; these hold
/// on any member, and still end when the user is deleted, its password changes, or auth is enabled again (a new key).
/// Clients treat the text as opaque, as etcd's do.
/// </summary>
/// <remarks>
/// As etcd's simple tokens, a token stays good while it is used: each member remembers when it last accepted a token
/// (by its signature, at most <see cref="MaxRemembered"/> of them) and accepts it for a TTL after that use, even past the
/// expiry it carries. A client that keeps calling one member keeps its token; one idle for a TTL signs in again.
/// </remarks>
internal sealed class SimpleTokens(AuthSettings settings, TimeProvider clock) : IAuthTokens
{
    /// <summary>Tokens whose last use a member remembers; past it, tokens simply expire when their text says.</summary>
    public const int MaxRemembered = 100_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<UInt128, long> lastUsed = new();
    private long nextPrune;

    private const byte Version = 1;
    private const int MacBytes = 16;
    private const int FixedBytes = 1 + 8 + 8 + 8; // version, expiry, credential revision (local) or nonce (OIDC), nonce

    /// <summary>Longer texts are not local users' tokens; refused before any decoding.</summary>
    public const int MaxTokenChars = 512;

    public TimeSpan Ttl => settings.TokenTtl;

    /// <summary>Longer texts are not sessions this cluster issued (an OIDC session holds groups; a cookie holds 4 KiB).</summary>
    public const int MaxSessionChars = 3800;

    /// <summary>The payload version of an OpenID Connect session (<see cref="IssueExternal"/>).</summary>
    private const byte ExternalVersion = 2;

    /// <summary>Most groups an OpenID Connect session carries.</summary>
    public const int MaxExternalGroups = 64;

    /// <summary>Most bytes of an OpenID Connect session's name or of one group.</summary>
    public const int MaxExternalPart = 255;

    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    public string Issue(AuthState state, AuthUser user)
    {
        var name = Encoding.UTF8.GetBytes(user.Name);
        var payload = new byte[FixedBytes + name.Length];
        payload[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(1), clock.GetUtcNow().Add(settings.TokenTtl).ToUnixTimeSeconds());
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(9), user.CredentialRevision);
        RandomNumberGenerator.Fill(payload.AsSpan(17, 8));
        name.CopyTo(payload, FixedBytes);
        return $"{Base64Url(payload)}.{Base64Url(Mac(state.TokenKey.Span, payload))}";
    }

    /// <summary>The user a token names, if it is valid now (a local user's token only: etcd calls and the gateway).</summary>
    /// <exception cref="ConclaveErrorException"><see cref="ErrorCode.InvalidAuthToken"/>: malformed, forged, expired, or its user changed.</exception>
    public string Validate(AuthState state, string token)
    {
        var session = ValidateSession(state, token);
        return session.Provider == SessionIdentity.Local
            ? session.Name
            : throw Invalid($"'{session.Name}' signed in to the console through OpenID Connect: that session is for /api/v1 and the console, not for etcd calls (OIDC users are not users of the auth store)");
    }

    /// <summary>
    /// Who a token names, if it is valid now: a local user's token (any member accepts it, ADR 0014), or a console
    /// session made by an OpenID Connect sign-in (<see cref="IssueExternal"/>).
    /// </summary>
    /// <exception cref="ConclaveErrorException"><see cref="ErrorCode.InvalidAuthToken"/>: malformed, forged, expired, or its user changed.</exception>
    public SessionIdentity ValidateSession(AuthState state, string token)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (token.Length > MaxSessionChars || dot <= 0)
        {
            throw Invalid("not a token this cluster issued");
        }

        var payload = FromBase64Url(token.AsSpan(0, dot));
        var mac = FromBase64Url(token.AsSpan(dot + 1));
        if (payload is null || mac is null || payload.Length <= FixedBytes || payload[0] is not (Version or ExternalVersion) || mac.Length != MacBytes
            || (payload[0] == Version && token.Length > MaxTokenChars)
            || !CryptographicOperations.FixedTimeEquals(mac, Mac(state.TokenKey.Span, payload)))
        {
            throw Invalid("not a token this cluster issued (or auth was enabled again since)");
        }

        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var expires = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(1));
        if (payload[0] == ExternalVersion)
        {
            return ValidateExternal(state, payload, expires, now);
        }

        var ttl = (long)settings.TokenTtl.TotalSeconds;
        var id = BinaryPrimitives.ReadUInt128LittleEndian(mac);
        if (expires <= now && !(lastUsed.TryGetValue(id, out var used) && used + ttl > now))
        {
            throw Invalid("the token has expired; authenticate again");
        }

        string name;
        try
        {
            name = Strict.GetString(payload, FixedBytes, payload.Length - FixedBytes);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("not a token this cluster issued");
        }

        if (state.FindUser(name) is not { } user || user.CredentialRevision != BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(9)))
        {
            throw Invalid($"the token's user '{name}' was deleted or its password changed; authenticate again");
        }

        Remember(id, now, ttl);
        return new SessionIdentity(name, SessionIdentity.Local, []);
    }

    /// <summary>
    /// A console session for a user the OpenID Connect provider vouched for: the name and groups it gave, ending a TTL
    /// from now (not extended by use: nothing else ends it, as no user of the auth store stands behind it), signed with
    /// the cluster's token key so every member accepts it.
    /// </summary>
    /// <exception cref="ArgumentException">The name or groups do not fit a session (too long, too many).</exception>
    public string IssueExternal(AuthState state, string name, IReadOnlyList<string> groups)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var groupBytes = groups.Select(static g => Encoding.UTF8.GetBytes(g)).ToList();
        if (nameBytes.Length is 0 or > MaxExternalPart || groupBytes.Count > MaxExternalGroups || groupBytes.Any(static g => g.Length is 0 or > MaxExternalPart))
        {
            throw new ArgumentException($"a session holds a name and at most {MaxExternalGroups} groups of 1 to {MaxExternalPart} bytes each");
        }

        var payload = new byte[FixedBytes + 2 + nameBytes.Length + 2 + groupBytes.Sum(static g => 2 + g.Length)];
        payload[0] = ExternalVersion;
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(1), clock.GetUtcNow().Add(settings.TokenTtl).ToUnixTimeSeconds());
        RandomNumberGenerator.Fill(payload.AsSpan(9, 16));
        var at = FixedBytes;
        at = WritePart(payload, at, nameBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(at), (ushort)groupBytes.Count);
        at += 2;
        foreach (var g in groupBytes)
        {
            at = WritePart(payload, at, g);
        }

        var token = $"{Base64Url(payload)}.{Base64Url(Mac(state.TokenKey.Span, payload))}";
        return token.Length <= MaxSessionChars ? token : throw new ArgumentException($"the name and groups make a session longer than {MaxSessionChars} characters (a cookie's limit)");
    }

    private static int WritePart(byte[] payload, int at, byte[] part)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(at), (ushort)part.Length);
        part.CopyTo(payload, at + 2);
        return at + 2 + part.Length;
    }

    private static SessionIdentity ValidateExternal(AuthState state, byte[] payload, long expires, long now)
    {
        if (expires <= now)
        {
            throw Invalid("the console session from OpenID Connect has ended; sign in again");
        }

        // Signed by the cluster, so well formed; read defensively all the same.
        try
        {
            var at = FixedBytes;
            var name = ReadPart(payload, ref at);
            var count = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(at));
            at += 2;
            var groups = new string[count];
            for (var i = 0; i < count; i++)
            {
                groups[i] = ReadPart(payload, ref at);
            }

            if (at != payload.Length)
            {
                throw Invalid("not a token this cluster issued");
            }

            // A local user added since with this name: the name now means that user, not the provider's.
            if (state.FindUser(name) is not null)
            {
                throw Invalid($"'{name}' is now a user of the auth store; a session from OpenID Connect under that name no longer holds: sign in again");
            }

            return new SessionIdentity(name, SessionIdentity.Oidc, groups);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or DecoderFallbackException)
        {
            throw Invalid("not a token this cluster issued");
        }
    }

    private static string ReadPart(byte[] payload, ref int at)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(at));
        var text = Strict.GetString(payload.AsSpan(at + 2, length));
        at += 2 + length;
        return text;
    }

    /// <summary>Notes a use; once a second at most, forgets the uses older than a TTL.</summary>
    private void Remember(UInt128 id, long now, long ttl)
    {
        if (lastUsed.Count < MaxRemembered || lastUsed.ContainsKey(id))
        {
            lastUsed[id] = now;
        }

        if (now >= Interlocked.Read(ref nextPrune) && Interlocked.Exchange(ref nextPrune, now + 1) <= now)
        {
            foreach (var (key, used) in lastUsed)
            {
                if (used + ttl <= now)
                {
                    lastUsed.TryRemove(key, out _);
                }
            }
        }
    }

    private static byte[] Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload)
    {
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(key, payload, full);
        return full[..MacBytes].ToArray();
    }

    private static ConclaveErrorException Invalid(string detail) => new(ErrorCode.InvalidAuthToken, detail);

    internal static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static readonly System.Buffers.SearchValues<char> Base64UrlAlphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>Decodes canonical unpadded base64url; null for anything else (padding, whitespace or other characters included).</summary>
    internal static byte[]? FromBase64Url(ReadOnlySpan<char> text)
    {
        if (text.ContainsAnyExcept(Base64UrlAlphabet) || text.Length % 4 == 1)
        {
            return null;
        }

        // Canonical only: unused low bits set in the last character would give a second spelling of the same bytes
        // (the decoder throws FormatException for those, despite its name).
        var bytes = new byte[text.Length * 3 / 4];
        try
        {
            return System.Buffers.Text.Base64Url.TryDecodeFromChars(text, bytes, out var written) && Base64Url(bytes.AsSpan(0, written)).AsSpan().SequenceEqual(text)
                ? bytes[..written]
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>Who a session or token names: the user, how it signed in (<see cref="Local"/> or <see cref="Oidc"/>), and, for OIDC, its provider's groups.</summary>
internal sealed record SessionIdentity(string Name, string Provider, IReadOnlyList<string> Groups)
{
    public const string Local = "local";
    public const string Oidc = "oidc";
}

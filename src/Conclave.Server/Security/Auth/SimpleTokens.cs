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
    private const int FixedBytes = 1 + 8 + 8 + 8; // version, expiry, credential revision, nonce

    /// <summary>Longer texts are not tokens this member issued; refused before any decoding.</summary>
    public const int MaxTokenChars = 512;

    public TimeSpan Ttl => settings.TokenTtl;

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

    public string Validate(AuthState state, string token)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (token.Length > MaxTokenChars || dot <= 0)
        {
            throw Invalid("not a token this cluster issued");
        }

        var payload = FromBase64Url(token.AsSpan(0, dot));
        var mac = FromBase64Url(token.AsSpan(dot + 1));
        if (payload is null || mac is null || payload.Length <= FixedBytes || payload[0] != Version || mac.Length != MacBytes
            || !CryptographicOperations.FixedTimeEquals(mac, Mac(state.TokenKey.Span, payload)))
        {
            throw Invalid("not a token this cluster issued (or auth was enabled again since)");
        }

        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var ttl = (long)settings.TokenTtl.TotalSeconds;
        var id = BinaryPrimitives.ReadUInt128LittleEndian(mac);
        var expires = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(1));
        if (expires <= now && !(lastUsed.TryGetValue(id, out var used) && used + ttl > now))
        {
            throw Invalid("the token has expired; authenticate again");
        }

        string name;
        try
        {
            name = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload, FixedBytes, payload.Length - FixedBytes);
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
        return name;
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

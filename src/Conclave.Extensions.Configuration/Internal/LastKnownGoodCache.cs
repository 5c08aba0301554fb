using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Conclave.Client;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// The last-known-good releases on disk, so an app starts when the service is down. Encrypted and authenticated
/// with AES-256-GCM: a secret in configuration never sits on disk in plain text, and a changed, truncated or
/// swapped file (another app's cache, another key) fails authentication and is not loaded.
/// </summary>
/// <remarks>
/// File format version 1: <c>"CLKG"</c>, version byte <c>1</c>, 12-byte nonce, 16-byte tag, ciphertext. The
/// associated data is the 5-byte header plus <c>app\nenv\nns1,ns2</c>, so a file only opens for the source that
/// wrote it. The plaintext is UTF-8 JSON (<see cref="CacheDocument"/>). Written to a temporary file in the same
/// directory, flushed, then renamed over the old file: a crash leaves the old file or the new one, never half.
/// </remarks>
internal sealed class LastKnownGoodCache
{
    public const byte FormatVersion = 1;
    private const int HeaderSize = 5;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] Magic = "CLKG"u8.ToArray();

    private readonly byte[] key;
    private readonly byte[] identity;
    private readonly TimeProvider clock;

    public LastKnownGoodCache(string path, byte[] key, string identity, TimeProvider clock)
    {
        if (key.Length != 32)
        {
            throw new ArgumentException("The cache key must be 32 bytes (AES-256).", nameof(key));
        }

        Path = path;
        this.key = key;
        this.identity = Encoding.UTF8.GetBytes(identity);
        this.clock = clock;
    }

    public string Path { get; }

    /// <summary>Parses <see cref="ConclaveConfigurationOptions.CacheKey"/>: base64 of exactly 32 bytes.</summary>
    public static byte[] ParseKey(string text)
    {
        var bytes = new byte[48];
        if (!Convert.TryFromBase64String(text.Trim(), bytes, out var written) || written != 32)
        {
            throw new ArgumentException(
                $"The Conclave cache key (option CacheKey or {ConclaveConfigurationOptions.CacheKeyEnvironmentVariable}) must be 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`.");
        }

        return bytes[..32];
    }

    public async Task SaveAsync(IReadOnlyCollection<ConfigRelease> releases, CancellationToken cancellationToken)
    {
        var document = new CacheDocument(FormatVersion, clock.GetUtcNow(), [.. releases]);
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(document, CacheJsonContext.Default.CacheDocument);
        var file = new byte[HeaderSize + NonceSize + TagSize + plaintext.Length];
        Magic.CopyTo(file, 0);
        file[4] = FormatVersion;
        var nonce = file.AsSpan(HeaderSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, plaintext, file.AsSpan(HeaderSize + NonceSize + TagSize), file.AsSpan(HeaderSize + NonceSize, TagSize), AssociatedData(file));
        }

        CryptographicOperations.ZeroMemory(plaintext);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(directory);
        var temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            var stream = new FileStream(temporary, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(file, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Reads the cache. Returns null when there is none; throws <see cref="InvalidDataException"/> (with why) when a
    /// file is there but must not be used: unknown format, wrong length, failed authentication.
    /// </summary>
    public CacheDocument? Load()
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (file.Length < HeaderSize + NonceSize + TagSize || !file.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw new InvalidDataException("not a Conclave cache file (bad header or too short)");
        }

        if (file[4] != FormatVersion)
        {
            throw new InvalidDataException($"cache format version {file[4]} is not supported (this build reads version {FormatVersion})");
        }

        var plaintext = new byte[file.Length - HeaderSize - NonceSize - TagSize];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(file.AsSpan(HeaderSize, NonceSize), file.AsSpan(HeaderSize + NonceSize + TagSize), file.AsSpan(HeaderSize + NonceSize, TagSize), plaintext, AssociatedData(file));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new InvalidDataException("authentication failed: the file was changed, or written with another key or for another app/environment/namespaces");
        }

        try
        {
            var document = JsonSerializer.Deserialize(plaintext, CacheJsonContext.Default.CacheDocument)
                ?? throw new InvalidDataException("empty cache document");
            return document.Version == FormatVersion
                ? document
                : throw new InvalidDataException($"cache document version {document.Version} is not supported");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("the cache document does not parse: " + e.Message, e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private byte[] AssociatedData(byte[] file)
    {
        var data = new byte[HeaderSize + identity.Length];
        file.AsSpan(0, HeaderSize).CopyTo(data);
        identity.CopyTo(data, HeaderSize);
        return data;
    }

    /// <summary>The file name for a source: readable prefix plus a hash, so two sources never share a file.</summary>
    public static string FileNameFor(string identity, string app, string environment)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(identity), hash);
        var safe = new string([.. $"{app}-{environment}".Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);
        return $"{safe}-{Convert.ToHexStringLower(hash[..8])}.lkg";
    }
}

namespace Conclave.ConfigCenter.Secrets;

/// <summary>One data key version: AES-256-GCM of the 32-byte key under master key <see cref="MasterKeyId"/> (base64 of nonce | ciphertext | tag).</summary>
public sealed record WrappedDataKey
{
    public required int Version { get; init; }

    public required string MasterKeyId { get; init; }

    public required string Wrapped { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

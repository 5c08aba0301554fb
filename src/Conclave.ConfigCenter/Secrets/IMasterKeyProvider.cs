namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// Wraps and unwraps the center's data keys (ADR 0015, decision 6). The master keys never leave the provider: the local
/// one holds them in memory (<see cref="LocalMasterKeys"/>); a KMS-backed one would call out. A provider may hold older
/// keys besides the current one, so values wrapped before a rotation stay readable until they are re-wrapped.
/// </summary>
public interface IMasterKeyProvider
{
    /// <summary>The id of the key new data keys are wrapped under. Derived from the key, never the key itself.</summary>
    string CurrentKeyId { get; }

    /// <summary>Every key id this provider can unwrap with, the current one first.</summary>
    IReadOnlyList<string> KeyIds { get; }

    /// <summary>Wraps <paramref name="dataKey"/> under the current key, bound to <paramref name="associatedData"/>.</summary>
    ValueTask<byte[]> WrapAsync(ReadOnlyMemory<byte> dataKey, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default);

    /// <summary>
    /// Unwraps a data key wrapped under <paramref name="keyId"/> with the same <paramref name="associatedData"/>.
    /// Throws <see cref="ConfigCenterException"/> (<see cref="ConfigErrorKind.SecretUnavailable"/>) when the provider does
    /// not hold that key, or when the wrapped bytes do not open under it (altered, or bound to other data).
    /// </summary>
    ValueTask<byte[]> UnwrapAsync(string keyId, ReadOnlyMemory<byte> wrapped, ReadOnlyMemory<byte> associatedData, CancellationToken cancellationToken = default);
}

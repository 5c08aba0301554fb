namespace Conclave.Client;

/// <summary>Why the server rejected a request as invalid.</summary>
public enum InvalidRequestReason
{
    /// <summary>Another validation failure; see <see cref="ConclaveException.ServerMessage"/>.</summary>
    Other = 0,

    /// <summary>The request has an empty key.</summary>
    KeyNotProvided,

    /// <summary>The request exceeds the server's maximum request size.</summary>
    RequestTooLarge,

    /// <summary>A transaction has more operations than the server allows.</summary>
    TooManyOperations,

    /// <summary>A transaction writes the same key more than once.</summary>
    DuplicateKey,

    /// <summary>A lease TTL or other value is out of the allowed range.</summary>
    ValueOutOfRange,
}

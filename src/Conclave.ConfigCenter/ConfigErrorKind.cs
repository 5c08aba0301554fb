namespace Conclave.ConfigCenter;

/// <summary>Why a configuration-center operation was refused; the edges map each to a gRPC and HTTP status.</summary>
public enum ConfigErrorKind
{
    /// <summary>An app, environment, namespace or release does not exist.</summary>
    NotFound,

    /// <summary>The namespace exists but has nothing released for this instance.</summary>
    NoRelease,

    AlreadyExists,

    /// <summary>A name, key, label or argument breaks the documented rules.</summary>
    InvalidArgument,

    /// <summary>The document does not parse for its format or is rejected by the namespace's schema.</summary>
    InvalidDocument,

    /// <summary>The JSON Schema attached to a namespace is not a valid schema.</summary>
    InvalidSchema,

    TooLarge,

    /// <summary>The namespace changed since the revision the editor read.</summary>
    Conflict,

    /// <summary>The operation needs state the namespace is not in (e.g. promote without a gray release).</summary>
    FailedPrecondition,

    /// <summary>The caller is known but lacks the permission (ADR 0015); the message names it and its scope.</summary>
    PermissionDenied,

    /// <summary>The caller gave no identity, or an invalid one (no sign-in, a revoked app credential).</summary>
    Unauthenticated,

    /// <summary>
    /// A secret cannot be sealed or opened here: the member has no master key, lacks the one a data key is wrapped
    /// under, or a sealed value does not open (altered, or moved from another item). The message says which.
    /// </summary>
    SecretUnavailable,
}

namespace Conclave.Api.Errors;

/// <summary>Every error Conclave reports on the wire. The catalogue (<see cref="ErrorCatalogue"/>) gives each its gRPC code and etcd's text.</summary>
public enum ErrorCode
{
    KeyNotProvided,
    KeyNotFound,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    RequestTooLarge,
    Compacted,
    FutureRevision,
    NoSpace,
    LeaseNotFound,
    LeaseExists,
    LeaseTtlTooLarge,
    NoLeader,
    NotLeader,
    Timeout,
    Stopped,
    Corrupt,
    MemberNotFound,
    PeerUrlExists,
    MemberBadUrls,
    MemberNotEnoughStarted,
    MemberNotLearner,
    Unhealthy,
    NotCapable,
    InvalidArgument,
    Unimplemented,
}

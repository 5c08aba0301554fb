namespace Conclave.Api.Errors;

/// <summary>
/// Every error Conclave reports on the wire, and those of etcd 3.4 its clients recognise. The catalogue
/// (<see cref="ErrorCatalogue"/>) gives each its gRPC code and etcd's text. Add values at the end: the name travels in
/// the <c>conclave-code</c> trailer, and a client that does not know a name treats the error by its status only.
/// </summary>
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
    LearnerNotReady,
    NotSupportedForLearner,
    Unhealthy,
    NotCapable,
    InvalidArgument,
    Unimplemented,
    LeaderChanged,
    TimeoutDueToLeaderFail,
    TimeoutDueToConnectionLost,
    TooManyRequests,
    PermissionDenied,
    InvalidAuthToken,
    ElectionNoLeader,
    ElectionNotLeader,

    // Conclave's own (etcd has no such error): texts in etcd's style, recognised through the conclave-code trailer.
    SessionExpired,
    LogNoSpace,
    LogWriteFailed,
    Internal,

    // etcd's auth errors (ADR 0014).
    RootUserNotExist,
    RootRoleNotExist,
    UserAlreadyExists,
    UserEmpty,
    UserNotFound,
    RoleAlreadyExists,
    RoleNotFound,
    RoleEmpty,
    AuthFailed,
    RoleNotGranted,
    PermissionNotGranted,
    AuthNotEnabled,
    InvalidAuthManagement,
    AuthOldRevision,
    TooManyWatches,
    TooManyLeases,
}

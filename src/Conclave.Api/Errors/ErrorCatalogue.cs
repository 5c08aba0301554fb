using Grpc.Core;

namespace Conclave.Api.Errors;

/// <summary>
/// The wire catalogue shared by server and client: for each <see cref="ErrorCode"/> the gRPC status code and
/// the exact message etcd sends. etcd clients recognise errors by this text, so it must not change; details
/// that help a person (the field, the limit) travel beside it in the <see cref="DetailTrailer"/> trailer and,
/// for etcdctl users, in the server log.
/// </summary>
public static class ErrorCatalogue
{
    /// <summary>Trailer carrying a human explanation next to etcd's fixed message.</summary>
    public const string DetailTrailer = "conclave-detail";

    /// <summary>
    /// Trailer carrying the <see cref="ErrorCode"/> name (or, from the configuration center, its refusal's kind). A
    /// client reads it first and falls back to <see cref="Recognise"/> only when it is absent (a real etcd).
    /// </summary>
    public const string CodeTrailer = "conclave-code";

    /// <summary>
    /// The <see cref="ErrorCode"/> a <see cref="CodeTrailer"/> value names, or null for another value (the configuration
    /// center's kinds, a code newer than this build). Names only: a number is not a code.
    /// </summary>
    public static ErrorCode? Parse(string? trailer) =>
        !string.IsNullOrEmpty(trailer) && char.IsLetter(trailer[0]) && Enum.TryParse<ErrorCode>(trailer, ignoreCase: false, out var code) && Entries.ContainsKey(code)
            ? code
            : null;

    /// <summary>
    /// Trailer set to "true" when a failed write certainly was not, and will not be, applied (e.g. no leader was
    /// known, so it was never sent): a client may send it again elsewhere without risking a double apply.
    /// </summary>
    public const string NotAppliedTrailer = "conclave-not-applied";

    private static readonly Dictionary<ErrorCode, (StatusCode Status, string Message)> Entries = new()
    {
        [ErrorCode.KeyNotProvided] = (StatusCode.InvalidArgument, "etcdserver: key is not provided"),
        [ErrorCode.KeyNotFound] = (StatusCode.InvalidArgument, "etcdserver: key not found"),
        [ErrorCode.ValueProvided] = (StatusCode.InvalidArgument, "etcdserver: value is provided"),
        [ErrorCode.LeaseProvided] = (StatusCode.InvalidArgument, "etcdserver: lease is provided"),
        [ErrorCode.TooManyOps] = (StatusCode.InvalidArgument, "etcdserver: too many operations in txn request"),
        [ErrorCode.DuplicateKey] = (StatusCode.InvalidArgument, "etcdserver: duplicate key given in txn request"),
        [ErrorCode.RequestTooLarge] = (StatusCode.InvalidArgument, "etcdserver: request is too large"),
        [ErrorCode.Compacted] = (StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
        [ErrorCode.FutureRevision] = (StatusCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
        [ErrorCode.NoSpace] = (StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
        [ErrorCode.LeaseNotFound] = (StatusCode.NotFound, "etcdserver: requested lease not found"),
        [ErrorCode.LeaseExists] = (StatusCode.FailedPrecondition, "etcdserver: lease already exists"),
        [ErrorCode.LeaseTtlTooLarge] = (StatusCode.OutOfRange, "etcdserver: too large lease TTL"),
        [ErrorCode.NoLeader] = (StatusCode.Unavailable, "etcdserver: no leader"),
        [ErrorCode.NotLeader] = (StatusCode.FailedPrecondition, "etcdserver: not leader"),
        [ErrorCode.Timeout] = (StatusCode.Unavailable, "etcdserver: request timed out"),
        [ErrorCode.Stopped] = (StatusCode.Unavailable, "etcdserver: server stopped"),
        [ErrorCode.Corrupt] = (StatusCode.DataLoss, "etcdserver: corrupt cluster"),
        [ErrorCode.MemberNotFound] = (StatusCode.NotFound, "etcdserver: member not found"),
        [ErrorCode.PeerUrlExists] = (StatusCode.FailedPrecondition, "etcdserver: Peer URLs already exists"),
        [ErrorCode.MemberBadUrls] = (StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid"),
        [ErrorCode.MemberNotEnoughStarted] = (StatusCode.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members"),
        [ErrorCode.MemberNotLearner] = (StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member"),
        [ErrorCode.LearnerNotReady] = (StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader"),
        [ErrorCode.NotSupportedForLearner] = (StatusCode.Unavailable, "etcdserver: rpc not supported for learner"),
        [ErrorCode.Unhealthy] = (StatusCode.Unavailable, "etcdserver: unhealthy cluster"),
        [ErrorCode.NotCapable] = (StatusCode.Unavailable, "etcdserver: not capable"),
        [ErrorCode.InvalidArgument] = (StatusCode.InvalidArgument, "etcdserver: invalid argument"),
        [ErrorCode.Unimplemented] = (StatusCode.Unimplemented, "etcdserver: not implemented"),
        [ErrorCode.LeaderChanged] = (StatusCode.Unavailable, "etcdserver: leader changed"),
        [ErrorCode.TimeoutDueToLeaderFail] = (StatusCode.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure"),
        [ErrorCode.TimeoutDueToConnectionLost] = (StatusCode.Unavailable, "etcdserver: request timed out, possibly due to connection lost"),
        [ErrorCode.TooManyRequests] = (StatusCode.ResourceExhausted, "etcdserver: too many requests"),
        [ErrorCode.PermissionDenied] = (StatusCode.PermissionDenied, "etcdserver: permission denied"),
        [ErrorCode.InvalidAuthToken] = (StatusCode.Unauthenticated, "etcdserver: invalid auth token"),
        // etcd's election service returns its package's errors as they are, so gRPC sends them as Unknown.
        [ErrorCode.ElectionNoLeader] = (StatusCode.Unknown, "election: no leader"),
        [ErrorCode.ElectionNotLeader] = (StatusCode.Unknown, "election: not leader"),
        [ErrorCode.SessionExpired] = (StatusCode.Unknown, "concurrency: session expired"),
        [ErrorCode.LogNoSpace] = (StatusCode.ResourceExhausted, "etcdserver: no space left on device: the member cannot write its log"),
        [ErrorCode.LogWriteFailed] = (StatusCode.Unavailable, "etcdserver: storage failure: the member cannot write its log"),
        [ErrorCode.Internal] = (StatusCode.Internal, "etcdserver: internal error"),
        [ErrorCode.RootUserNotExist] = (StatusCode.FailedPrecondition, "etcdserver: root user does not exist"),
        [ErrorCode.RootRoleNotExist] = (StatusCode.FailedPrecondition, "etcdserver: root user does not have root role"),
        [ErrorCode.UserAlreadyExists] = (StatusCode.FailedPrecondition, "etcdserver: user name already exists"),
        [ErrorCode.UserEmpty] = (StatusCode.InvalidArgument, "etcdserver: user name is empty"),
        [ErrorCode.UserNotFound] = (StatusCode.FailedPrecondition, "etcdserver: user name not found"),
        [ErrorCode.RoleAlreadyExists] = (StatusCode.FailedPrecondition, "etcdserver: role name already exists"),
        [ErrorCode.RoleNotFound] = (StatusCode.FailedPrecondition, "etcdserver: role name not found"),
        [ErrorCode.RoleEmpty] = (StatusCode.InvalidArgument, "etcdserver: role name is empty"),
        [ErrorCode.AuthFailed] = (StatusCode.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password"),
        [ErrorCode.RoleNotGranted] = (StatusCode.FailedPrecondition, "etcdserver: role is not granted to the user"),
        [ErrorCode.PermissionNotGranted] = (StatusCode.FailedPrecondition, "etcdserver: permission is not granted to the role"),
        [ErrorCode.AuthNotEnabled] = (StatusCode.FailedPrecondition, "etcdserver: authentication is not enabled"),
        [ErrorCode.InvalidAuthManagement] = (StatusCode.InvalidArgument, "etcdserver: invalid auth management"),
        [ErrorCode.AuthOldRevision] = (StatusCode.InvalidArgument, "etcdserver: revision of auth store is old"),
        // A member's own limits (docs/security.md#limits); the detail trailer names the limit and its flag.
        [ErrorCode.TooManyWatches] = (StatusCode.ResourceExhausted, "etcdserver: too many watches"),
        [ErrorCode.TooManyLeases] = (StatusCode.ResourceExhausted, "etcdserver: too many leases"),
    };

    /// <summary>The gRPC status code for <paramref name="code"/>.</summary>
    public static StatusCode StatusOf(ErrorCode code) => Entries[code].Status;

    /// <summary>The exact etcd message for <paramref name="code"/>.</summary>
    public static string MessageOf(ErrorCode code) => Entries[code].Message;

    /// <summary>Whether the catalogue has an entry for <paramref name="code"/> (every defined code has one).</summary>
    public static bool Contains(ErrorCode code) => Entries.ContainsKey(code);

    /// <summary>
    /// Finds the code for a status + message received from a server that sends no <see cref="CodeTrailer"/> (etcd
    /// itself): the exact text etcd sends for it.
    /// </summary>
    public static ErrorCode? Recognise(StatusCode status, string? message)
    {
        foreach (var (code, entry) in Entries)
        {
            if (entry.Status == status && string.Equals(entry.Message, message, StringComparison.Ordinal))
            {
                return code;
            }
        }

        return null;
    }
}

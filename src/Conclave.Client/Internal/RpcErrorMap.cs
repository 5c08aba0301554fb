using System.Net.Http;
using System.Net.Sockets;
using Conclave.Api.Errors;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>
/// The one table that maps gRPC failures back to typed exceptions: the client side of the server's error catalogue.
/// A failure's <see cref="ErrorCode"/> comes from the <c>conclave-code</c> trailer a Conclave member sends; only
/// without it (a real etcd) from etcd's exact status and text (<see cref="ErrorCatalogue.Recognise"/>).
/// </summary>
internal static class RpcErrorMap
{
    /// <summary>The catalogued error <paramref name="ex"/> carries, or null when it is none (a transport failure, a deadline).</summary>
    public static ErrorCode? CodeOf(RpcException ex)
    {
        var trailer = ex.Trailers.GetValue(ErrorCatalogue.CodeTrailer);
        return trailer is not null
            ? ErrorCatalogue.Parse(trailer)
            : ErrorCatalogue.Recognise(ex.StatusCode, ex.Status.Detail);
    }

    public static Exception ToException(RpcException ex, string? endpoint, long requestedRevision = 0, long leaseId = 0)
    {
        var code = CodeOf(ex);
        var mapped = code is { } known
            ? ForCode(known, ex, endpoint, requestedRevision, leaseId)
            : ForStatus(ex, endpoint);
        return mapped is ConclaveException c ? c.WithCode(code) : mapped;
    }

#pragma warning disable CS8524 // Every named value is mapped (a new one without a mapping fails the build); others cannot occur.
    /// <summary>The exception a caller gets for each catalogued error.</summary>
    private static ConclaveException ForCode(ErrorCode code, RpcException ex, string? endpoint, long requestedRevision, long leaseId)
    {
        var status = ex.StatusCode;
        var message = ex.Status.Detail;
        return code switch
        {
            ErrorCode.Compacted => new CompactedRevisionException(requestedRevision, status, message, endpoint, ex),
            ErrorCode.FutureRevision => new FutureRevisionException(requestedRevision, status, message, endpoint, ex),
            ErrorCode.NoSpace => new DatabaseSpaceExceededException(status, message, endpoint, ex),
            ErrorCode.LeaseNotFound => new LeaseNotFoundException(leaseId, status, message, endpoint, ex),

            ErrorCode.NoLeader or ErrorCode.NotLeader or ErrorCode.LeaderChanged => new NoLeaderException(status, message, endpoint, ex),
            ErrorCode.Timeout or ErrorCode.TimeoutDueToLeaderFail or ErrorCode.TimeoutDueToConnectionLost => new RequestTimeoutException(status, message, endpoint, ex),
            ErrorCode.Stopped or ErrorCode.Unhealthy or ErrorCode.NotCapable or ErrorCode.NotSupportedForLearner or ErrorCode.LogWriteFailed
                => new EndpointUnavailableException(status, message, endpoint, ex),

            ErrorCode.KeyNotProvided => Invalid(InvalidRequestReason.KeyNotProvided),
            ErrorCode.RequestTooLarge => Invalid(InvalidRequestReason.RequestTooLarge),
            ErrorCode.TooManyOps => Invalid(InvalidRequestReason.TooManyOperations),
            ErrorCode.DuplicateKey => Invalid(InvalidRequestReason.DuplicateKey),
            ErrorCode.LeaseTtlTooLarge => Invalid(InvalidRequestReason.ValueOutOfRange),
            ErrorCode.KeyNotFound or ErrorCode.ValueProvided or ErrorCode.LeaseProvided or ErrorCode.MemberBadUrls or ErrorCode.InvalidArgument
                => Invalid(InvalidRequestReason.Other),

            ErrorCode.PermissionDenied or ErrorCode.InvalidAuthToken or ErrorCode.UserEmpty or ErrorCode.AuthFailed or ErrorCode.AuthOldRevision
                => new PermissionDeniedException(status, message, endpoint, ex),

            // Answers of the auth API (user and role management).
            ErrorCode.RootUserNotExist or ErrorCode.RootRoleNotExist or ErrorCode.UserAlreadyExists or ErrorCode.UserNotFound
                or ErrorCode.RoleAlreadyExists or ErrorCode.RoleNotFound or ErrorCode.RoleEmpty or ErrorCode.RoleNotGranted
                or ErrorCode.PermissionNotGranted or ErrorCode.AuthNotEnabled or ErrorCode.InvalidAuthManagement
                => new ConclaveException($"Request to {endpoint ?? "the cluster"} failed: {message}", status, message, endpoint, ex),

            // Answers about a lease, a member or an election that the caller acts on by its code.
            ErrorCode.LeaseExists or ErrorCode.MemberNotFound or ErrorCode.PeerUrlExists or ErrorCode.MemberNotEnoughStarted
                or ErrorCode.MemberNotLearner or ErrorCode.LearnerNotReady or ErrorCode.ElectionNoLeader or ErrorCode.ElectionNotLeader
                or ErrorCode.SessionExpired or ErrorCode.TooManyRequests or ErrorCode.TooManyWatches or ErrorCode.TooManyLeases or ErrorCode.LogNoSpace or ErrorCode.Corrupt
                or ErrorCode.Unimplemented or ErrorCode.Internal
                => new ConclaveException($"Request to {endpoint ?? "the cluster"} failed: {message}", status, message, endpoint, ex),
        };

        InvalidRequestException Invalid(InvalidRequestReason reason) => new(reason, status, message, endpoint, ex);
    }
#pragma warning restore CS8524

    /// <summary>A failure without a catalogued error: a transport failure, a deadline, gRPC's own limits, a newer server's code.</summary>
    private static Exception ForStatus(RpcException ex, string? endpoint)
    {
        var message = ex.Status.Detail;
        var code = ex.StatusCode;
        switch (code)
        {
            case StatusCode.DeadlineExceeded:
                return new RequestTimeoutException(code, message, endpoint, ex);
            case StatusCode.InvalidArgument:
                return new InvalidRequestException(InvalidRequestReason.Other, code, message, endpoint, ex);
            case StatusCode.OutOfRange:
                return new InvalidRequestException(InvalidRequestReason.ValueOutOfRange, code, message, endpoint, ex);
            case StatusCode.ResourceExhausted when Has(message, "larger than max"):
                // gRPC's own message size limit ("received message larger than max"), on either side.
                return new InvalidRequestException(InvalidRequestReason.RequestTooLarge, code, message, endpoint, ex);
            case StatusCode.PermissionDenied:
            case StatusCode.Unauthenticated:
                return new PermissionDeniedException(code, message, endpoint, ex);
            case StatusCode.Unavailable:
                return new EndpointUnavailableException(code, WithCause(message, ex), endpoint, ex);
            default:
                return new ConclaveException($"Request to {endpoint ?? "the cluster"} failed: {code}: {message}", code, message, endpoint, ex);
        }
    }

    /// <summary>Whether a failed call can be sent again to another endpoint without risk of applying it twice.</summary>
    public static bool IsRetryable(RpcException ex, bool idempotent)
    {
        if (ex.StatusCode != StatusCode.Unavailable)
        {
            return false;
        }

        // Reads may always be repeated; a write only when the connection was never established, or when the server
        // says it certainly did not apply it (no leader was known, so it was never sent to the log).
        return idempotent || IsConnectFailure(ex) || WasNotApplied(ex);
    }

    /// <summary>Whether the server marked the failure "certainly not applied".</summary>
    public static bool WasNotApplied(RpcException ex) =>
        ex.Trailers.GetValue(ErrorCatalogue.NotAppliedTrailer) == "true";

    /// <summary>
    /// Whether the call failed in transport (connection refused, reset or lost mid-call) or because the cluster had
    /// no leader for a moment: worth sending again for calls that are safe to repeat.
    /// </summary>
    public static bool IsTransient(RpcException ex)
    {
        switch (CodeOf(ex))
        {
            case ErrorCode.ElectionNoLeader or ErrorCode.ElectionNotLeader:
                // About the election's candidates, not about Raft.
                return false;
            case ErrorCode.NoLeader or ErrorCode.NotLeader or ErrorCode.LeaderChanged:
                return true;
        }

        if (ex.StatusCode == StatusCode.Unavailable)
        {
            return true;
        }

        // A connection that dies mid-call surfaces as Internal ("Error reading next message") with an I/O cause.
        if (ex.StatusCode == StatusCode.Internal)
        {
            for (Exception? inner = ex.Status.DebugException ?? ex.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is IOException or HttpRequestException or SocketException)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Whether the server says the request's lease is gone (or a lock/election session ended while waiting).</summary>
    public static bool IsLeaseGone(RpcException ex) => CodeOf(ex) is ErrorCode.LeaseNotFound or ErrorCode.SessionExpired;

    private static bool IsConnectFailure(RpcException ex)
    {
        for (Exception? inner = ex.Status.DebugException ?? ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }:
                    return true;
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound }:
                    return true;
            }
        }

        return false;
    }

    // gRPC's own texts ("Error connecting to subchannel.") hide the reason; the socket error names it.
    private static string WithCause(string message, RpcException ex)
    {
        Exception? innermost = null;
        for (var inner = ex.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            innermost = inner;
        }

        return innermost is null || message.Contains(innermost.Message, StringComparison.Ordinal)
            ? message
            : $"{message} {innermost.Message}";
    }

    private static bool Has(string message, string fragment) => message.Contains(fragment, StringComparison.Ordinal);
}

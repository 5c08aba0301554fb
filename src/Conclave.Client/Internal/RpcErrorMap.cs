using System.Net.Http;
using System.Net.Sockets;
using Conclave.Api.Errors;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>
/// The one table that maps gRPC failures back to typed exceptions: the client side of the server's error
/// catalogue. Matching is on the etcd error text, since etcd clients parse the same texts.
/// </summary>
internal static class RpcErrorMap
{
    public static Exception ToException(RpcException ex, string? endpoint, long requestedRevision = 0, long leaseId = 0)
    {
        var message = ex.Status.Detail;
        var code = ex.StatusCode;

        if (Has(message, "required revision has been compacted"))
        {
            return new CompactedRevisionException(requestedRevision, code, message, endpoint, ex);
        }

        if (Has(message, "required revision is a future revision"))
        {
            return new FutureRevisionException(requestedRevision, code, message, endpoint, ex);
        }

        if (Has(message, "database space exceeded"))
        {
            return new DatabaseSpaceExceededException(code, message, endpoint, ex);
        }

        if (Has(message, "requested lease not found"))
        {
            return new LeaseNotFoundException(leaseId, code, message, endpoint, ex);
        }

        if (Has(message, "election: no leader"))
        {
            // Not Raft's "no leader": the election simply has no candidate; callers turn it into an empty result.
            return new ConclaveException($"Request to {endpoint ?? "the cluster"} failed: {message}", code, message, endpoint, ex);
        }

        if (Has(message, "no leader") || Has(message, "leader changed"))
        {
            return new NoLeaderException(code, message, endpoint, ex);
        }

        if (Has(message, "request timed out") || code == StatusCode.DeadlineExceeded)
        {
            return new RequestTimeoutException(code, message, endpoint, ex);
        }

        switch (code)
        {
            case StatusCode.InvalidArgument:
                return new InvalidRequestException(InvalidReason(message), code, message, endpoint, ex);
            case StatusCode.OutOfRange:
                return new InvalidRequestException(InvalidRequestReason.ValueOutOfRange, code, message, endpoint, ex);
            case StatusCode.ResourceExhausted when Has(message, "too large") || Has(message, "larger than max"):
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
        var message = ex.Status.Detail ?? string.Empty;
        if (Has(message, "election:"))
        {
            // The election's answers ("no leader", "not leader") are about candidates, not about Raft.
            return false;
        }

        if (ex.StatusCode == StatusCode.Unavailable || Has(message, "no leader") || Has(message, "not leader") || Has(message, "leader changed"))
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
    public static bool IsLeaseGone(RpcException ex)
    {
        var message = ex.Status.Detail ?? string.Empty;
        return Has(message, "requested lease not found") || Has(message, "session expired");
    }

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

    private static InvalidRequestReason InvalidReason(string message) =>
        Has(message, "key is not provided") ? InvalidRequestReason.KeyNotProvided
        : Has(message, "request is too large") ? InvalidRequestReason.RequestTooLarge
        : Has(message, "too many operations in txn request") ? InvalidRequestReason.TooManyOperations
        : Has(message, "duplicate key given in txn request") ? InvalidRequestReason.DuplicateKey
        : Has(message, "out of range") ? InvalidRequestReason.ValueOutOfRange
        : InvalidRequestReason.Other;

    private static bool Has(string message, string fragment) => message.Contains(fragment, StringComparison.Ordinal);
}

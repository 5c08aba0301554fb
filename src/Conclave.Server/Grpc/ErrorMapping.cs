using Conclave.Api.Errors;
using Conclave.Cluster;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// The one place that turns internal failures into what etcd clients expect: etcd's status code and exact
/// message, with the human explanation in the <see cref="ErrorCatalogue.DetailTrailer"/> trailer.
/// </summary>
internal static class ErrorMapping
{
    public static RpcException ToRpc(Exception e, CancellationToken callCancelled)
    {
        switch (e)
        {
            case RpcException rpc:
                return rpc;
            case ConclaveErrorException c:
                return Create(c.Code, c.Message);
            case MembershipException m:
                return Create(
                    m.Error switch
                    {
                        MembershipError.BadUrl => ErrorCode.MemberBadUrls,
                        MembershipError.PeerUrlExists => ErrorCode.PeerUrlExists,
                        MembershipError.NotFound => ErrorCode.MemberNotFound,
                        MembershipError.NotEnoughMembers => ErrorCode.MemberNotEnoughStarted,
                        MembershipError.InProgress => ErrorCode.Unhealthy,
                        MembershipError.LearnerNotReady => ErrorCode.LearnerNotReady,
                        _ => ErrorCode.NotCapable,
                    },
                    m.Message);
            case ConsensusUnavailableException u when FindIoFailure(u) is { } io:
                return StorageFailure(io);
            case ConsensusUnavailableException u:
                var unavailable = Create(u.Message.Contains("timed out", StringComparison.OrdinalIgnoreCase) ? ErrorCode.Timeout : ErrorCode.NoLeader, u.Message);
                if (u.NotApplied)
                {
                    unavailable.Trailers.Add(ErrorCatalogue.NotAppliedTrailer, "true");
                }

                return unavailable;
            case OperationCanceledException when callCancelled.IsCancellationRequested:
                return new RpcException(new Status(StatusCode.Cancelled, "context canceled"));
            case OperationCanceledException:
                return Create(ErrorCode.Stopped, "the member is stopping");
            default:
                // A failure nobody anticipated: its text is about our internals, not the request, so it stays in the
                // member's log (ErrorMappingInterceptor) and the caller gets a fixed message.
                return new RpcException(new Status(StatusCode.Internal, InternalErrorMessage), new Metadata { { ErrorCatalogue.DetailTrailer, "an unexpected server error; the member's log has the details" } });
        }
    }

    /// <summary>What a caller is told about an unexpected failure.</summary>
    public const string InternalErrorMessage = "etcdserver: internal error";

    /// <summary>True for a failure <see cref="ToRpc"/> has no meaning for: a bug, worth a log entry with its stack trace.</summary>
    public static bool IsUnexpected(Exception e) =>
        e is not (RpcException or ConclaveErrorException or MembershipException or ConsensusUnavailableException or OperationCanceledException);

    /// <summary>The log could not be written: say so (and whether the disk is full) instead of blaming the leader.</summary>
    private static RpcException StorageFailure(IOException io)
    {
        var full = io.HResult is 28 or 112 || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);
        var message = full
            ? "etcdserver: no space left on device: the member cannot write its log"
            : "etcdserver: storage failure: the member cannot write its log";
        var trailers = new Metadata { { ErrorCatalogue.DetailTrailer, Sanitize(io.Message) } };
        return new RpcException(new Status(full ? StatusCode.ResourceExhausted : StatusCode.Unavailable, message), trailers);
    }

    private static IOException? FindIoFailure(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is IOException io)
            {
                return io;
            }
        }

        return null;
    }

    public static RpcException Create(ErrorCode code, string detail)
    {
        var trailers = new Metadata
        {
            { ErrorCatalogue.CodeTrailer, code.ToString() },
            { ErrorCatalogue.DetailTrailer, Sanitize(detail) },
        };
        return new RpcException(new Status(ErrorCatalogue.StatusOf(code), ErrorCatalogue.MessageOf(code)), trailers);
    }

    // Metadata values must be printable ASCII.
    internal static string Sanitize(string s)
    {
        var chars = s.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray();
        return new string(chars);
    }
}

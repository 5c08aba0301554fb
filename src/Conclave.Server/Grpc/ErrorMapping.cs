using Conclave.Api.Errors;
using Conclave.Cluster;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// The one place that turns internal failures into what etcd clients expect: each exception's reason (an
/// <see cref="ErrorCode"/>, a <see cref="ConsensusUnavailableReason"/>, a <see cref="MembershipError"/>) picks an
/// <see cref="ErrorCode"/>, which the catalogue turns into etcd's status code and exact message; the code travels in
/// the <see cref="ErrorCatalogue.CodeTrailer"/> trailer and the human explanation in the
/// <see cref="ErrorCatalogue.DetailTrailer"/> trailer.
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
                return Create(CodeOf(m.Error), m.Message);
            case ConsensusUnavailableException u:
                var unavailable = Create(CodeOf(u.Reason), u.Message);
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
                return Create(ErrorCode.Internal, "an unexpected server error; the member's log has the details");
        }
    }

#pragma warning disable CS8524 // Every named value is mapped (a new one without a mapping fails the build); others cannot occur.
    /// <summary>
    /// Why consensus failed, as etcd says it. Texts and status codes come from <see cref="ErrorCatalogue"/>; what
    /// etcd 3.4 answers in the same situation decides the code.
    /// </summary>
    public static ErrorCode CodeOf(ConsensusUnavailableReason reason) => reason switch
    {
        ConsensusUnavailableReason.NoLeader => ErrorCode.NoLeader,
        // A follower that cannot reach the leader it knows has no leader it can use.
        ConsensusUnavailableReason.LeaderUnreachable => ErrorCode.NoLeader,
        ConsensusUnavailableReason.NotLeader => ErrorCode.NotLeader,
        ConsensusUnavailableReason.LeaderChanged => ErrorCode.LeaderChanged,
        ConsensusUnavailableReason.ProposalTimedOut => ErrorCode.Timeout,
        ConsensusUnavailableReason.ReadTimedOut => ErrorCode.Timeout,
        ConsensusUnavailableReason.Stopping => ErrorCode.Stopped,
        // etcd stops on a failed WAL write; a member that keeps serving reads says what it cannot do.
        ConsensusUnavailableReason.LogWriteFailed => ErrorCode.LogWriteFailed,
        ConsensusUnavailableReason.DiskFull => ErrorCode.LogNoSpace,
        // etcd panics on a failed apply: a bug, not a condition a client can act on.
        ConsensusUnavailableReason.ApplyFailed => ErrorCode.Internal,
    };

    /// <summary>Why a membership change was refused, as etcd says it.</summary>
    public static ErrorCode CodeOf(MembershipError error) => error switch
    {
        MembershipError.BadUrl => ErrorCode.MemberBadUrls,
        MembershipError.PeerUrlExists => ErrorCode.PeerUrlExists,
        MembershipError.NotFound => ErrorCode.MemberNotFound,
        MembershipError.NotEnoughMembers => ErrorCode.MemberNotEnoughStarted,
        MembershipError.InProgress => ErrorCode.Unhealthy,
        MembershipError.NotSupported => ErrorCode.NotCapable,
        MembershipError.LearnerNotReady => ErrorCode.LearnerNotReady,
        MembershipError.NotLearner => ErrorCode.MemberNotLearner,
    };
#pragma warning restore CS8524

    /// <summary>What a caller is told about an unexpected failure.</summary>
    public static string InternalErrorMessage => ErrorCatalogue.MessageOf(ErrorCode.Internal);

    /// <summary>True for a failure <see cref="ToRpc"/> has no meaning for: a bug, worth a log entry with its stack trace.</summary>
    public static bool IsUnexpected(Exception e) =>
        e is not (RpcException or ConclaveErrorException or MembershipException or ConsensusUnavailableException or OperationCanceledException);

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

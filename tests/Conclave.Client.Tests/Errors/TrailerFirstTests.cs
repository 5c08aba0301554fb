using Conclave.Api.Errors;
using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client.Tests.Errors;

/// <summary>
/// The client tells errors apart by the <c>conclave-code</c> trailer a Conclave member sends, and by etcd's exact text
/// only when there is no trailer (a real etcd). The wire table itself is <c>Server.Tests.Errors.ErrorTableTests</c>.
/// </summary>
public sealed class TrailerFirstTests
{
    private static RpcException Failure(StatusCode status, string text, string? code = null) =>
        new(new Status(status, text), code is null ? [] : new Metadata { { ErrorCatalogue.CodeTrailer, code } });

    [Fact]
    public void The_trailer_names_the_error_whatever_the_text_says() =>
        Assert.Equal(ErrorCode.Stopped, RpcErrorMap.CodeOf(Failure(StatusCode.Unavailable, "etcdserver: no leader", "Stopped")));

    [Fact]
    public void Without_a_trailer_only_etcds_exact_status_and_text_are_recognised()
    {
        Assert.Equal(ErrorCode.Timeout, RpcErrorMap.CodeOf(Failure(StatusCode.Unavailable, "etcdserver: request timed out")));
        Assert.Null(RpcErrorMap.CodeOf(Failure(StatusCode.Unavailable, "etcdserver: request timed out, and more")));
        Assert.Null(RpcErrorMap.CodeOf(Failure(StatusCode.InvalidArgument, "etcdserver: request timed out")));
    }

    [Theory]
    [InlineData("SomethingNewer")]
    [InlineData("13")] // a number is not a code name
    [InlineData("NoRelease")] // the configuration center's kinds share the trailer
    public void A_trailer_that_names_no_code_falls_back_to_the_status_not_the_text(string trailer)
    {
        var failure = Failure(StatusCode.Unavailable, "etcdserver: no leader", trailer);
        Assert.Null(RpcErrorMap.CodeOf(failure));
        Assert.IsType<EndpointUnavailableException>(RpcErrorMap.ToException(failure, "http://m1"));
    }

    [Fact]
    public void Raft_leader_errors_are_transient_the_elections_are_not()
    {
        Assert.True(RpcErrorMap.IsTransient(Failure(StatusCode.FailedPrecondition, "etcdserver: not leader", "NotLeader")));
        Assert.True(RpcErrorMap.IsTransient(Failure(StatusCode.FailedPrecondition, "etcdserver: not leader")));
        Assert.False(RpcErrorMap.IsTransient(Failure(StatusCode.Unknown, "election: no leader", "ElectionNoLeader")));
        Assert.False(RpcErrorMap.IsTransient(Failure(StatusCode.Unknown, "election: not leader")));
    }

    [Fact]
    public void A_lease_is_gone_when_the_server_says_so_by_code()
    {
        Assert.True(RpcErrorMap.IsLeaseGone(Failure(StatusCode.Unknown, "concurrency: session expired", "SessionExpired")));
        Assert.True(RpcErrorMap.IsLeaseGone(Failure(StatusCode.NotFound, "etcdserver: requested lease not found")));
        Assert.False(RpcErrorMap.IsLeaseGone(Failure(StatusCode.Unknown, "session expired")));
    }
}

using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client.Tests.Errors;

/// <summary>When a failed write may be sent to another member: only when it certainly did not apply.</summary>
public sealed class RetryPolicyTests
{
    private static RpcException NoLeader(bool notApplied)
    {
        var trailers = new Metadata { { "conclave-code", "NoLeader" } };
        if (notApplied)
        {
            trailers.Add("conclave-not-applied", "true");
        }

        return new RpcException(new Status(StatusCode.Unavailable, "etcdserver: no leader"), trailers);
    }

    [Fact]
    public void A_write_the_server_marked_not_applied_is_retried_elsewhere() =>
        Assert.True(RpcErrorMap.IsRetryable(NoLeader(notApplied: true), idempotent: false));

    [Fact]
    public void A_write_with_an_unknown_outcome_is_not_retried() =>
        Assert.False(RpcErrorMap.IsRetryable(NoLeader(notApplied: false), idempotent: false));

    [Fact]
    public void A_read_is_retried_either_way() =>
        Assert.True(RpcErrorMap.IsRetryable(NoLeader(notApplied: false), idempotent: true));
}

using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;

namespace Conclave.Server.Tests.Leases;

/// <summary>
/// <c>--max-leases</c>: a grant past the limit fails with RESOURCE_EXHAUSTED "etcdserver: too many leases" and the
/// limit in the detail trailer; a revoked lease makes room again. The quota does not count leases (50,000 leases cost
/// +46 MiB of resident memory and nothing of the quota), so this is what bounds them.
/// </summary>
public sealed class LeaseLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_grant_past_the_limit_is_refused_until_a_lease_is_revoked()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxLeases = 3 });
        using var channel = node.CreateChannel();
        var leases = new Lease.LeaseClient(channel);
        var granted = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            granted.Add((await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal("etcdserver: too many leases", refused.Status.Detail);
        Assert.Equal(nameof(ErrorCode.TooManyLeases), refused.Trailers.GetValue(ErrorCatalogue.CodeTrailer));
        Assert.Equal("3 leases exist; the limit is 3 (--max-leases)", refused.Trailers.GetValue(ErrorCatalogue.DetailTrailer));

        // The etcd client's view: etcdctl prints the text.
        var etcdctl = await Etcdctl.RunAsync(node.Endpoint, ["lease", "grant", "60"], stdin: null);
        Assert.NotEqual(0, etcdctl.ExitCode);
        Assert.Contains("etcdserver: too many leases", etcdctl.Stderr, StringComparison.Ordinal);

        await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = granted[0] });
        Assert.NotEqual(0, (await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID);

        await Fixtures.Grpc.PutAsync(new KV.KVClient(channel), "still", "writable");
        using var http = node.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
    }
}

using Conclave.Api.Etcd;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>The probe that tells a client an endpoint it left is worth returning to.</summary>
internal static class EndpointHealth
{
    private static readonly StatusRequest Request = new();

    /// <summary>
    /// Healthy means the member answers a status request within the dial timeout and knows a leader: a member that
    /// has just restarted and not yet rejoined would answer, but could not serve linearizable reads or writes.
    /// </summary>
    public static async Task<bool> IsHealthyAsync(ClientEndpoint endpoint, ConclaveClientOptions options, Metadata? headers, CancellationToken cancellationToken)
    {
        var deadline = options.TimeProvider.GetUtcNow().UtcDateTime + options.DialTimeout;
        var response = await endpoint.Maintenance.StatusAsync(Request, new CallOptions(headers, deadline, cancellationToken)).ConfigureAwait(false);
        return response.Leader != 0;
    }
}

using Conclave.Api.Errors;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>
/// The configuration center's refusals, told apart by the <c>conclave-code</c> trailer (the etcd texts of
/// <see cref="RpcErrorMap"/> do not cover them). Everything else goes through <see cref="RpcErrorMap"/>.
/// </summary>
internal static class ConfigErrorMap
{
    public static Exception ToException(RpcException ex, string? endpoint)
    {
        var code = ex.Trailers.GetValue(ErrorCatalogue.CodeTrailer);
        if (ex.StatusCode == StatusCode.NotFound && code is "NotFound" or "NoRelease")
        {
            return new ConfigNotFoundException(code == "NoRelease", ex.Status.Detail, endpoint, ex);
        }

        return RpcErrorMap.ToException(ex, endpoint);
    }

    /// <summary>Re-maps an exception <see cref="RpcErrorMap"/> produced for a configuration call.</summary>
    public static Exception Refine(ConclaveException ex) =>
        ex.InnerException is RpcException rpc && rpc.StatusCode == StatusCode.NotFound ? ToException(rpc, ex.Endpoint) : ex;
}

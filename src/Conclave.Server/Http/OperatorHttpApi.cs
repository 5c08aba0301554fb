using Conclave.Api.Errors;
using Conclave.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Http;

/// <summary>
/// The console's view of the store itself, under <c>/api/v1</c> beside the configuration center: the raw keyspace
/// (<see cref="KeysHttpApi"/>) and the cluster (<see cref="ClusterHttpApi"/>). Refusals are RFC 7807 problems.
/// </summary>
internal static class OperatorHttpApi
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1").ProducesProblems(ProblemResponses.Operator);
        api.AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (ConclaveErrorException e) when (e.Code == ErrorCode.PermissionDenied)
            {
                return Problems.Of(StatusCodes.Status403Forbidden, "permission denied", e.Code.ToString(), e.Message, context.HttpContext);
            }
            catch (ConclaveErrorException e)
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "refused", e.Code.ToString(), e.Message, context.HttpContext);
            }
            catch (ConsensusUnavailableException e)
            {
                return Problems.Of(StatusCodes.Status503ServiceUnavailable, "unavailable", "Unavailable", e.Message, context.HttpContext);
            }
        });
        KeysHttpApi.Map(api);
        ClusterHttpApi.Map(api);
    }
}

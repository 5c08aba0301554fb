using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Http;

/// <summary>RFC 7807 answers for the console's read APIs, shaped like the configuration center's (<c>code</c> included).</summary>
internal static class Problems
{
    public static IResult Of(int status, string title, string code, string detail, HttpContext http) =>
        Results.Problem(detail: detail, instance: http.Request.Path, statusCode: status, title: title, type: $"https://conclave.dev/problems/{code}",
            extensions: new Dictionary<string, object?> { ["code"] = code });
}

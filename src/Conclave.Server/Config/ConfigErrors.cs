using Conclave.Api.Errors;
using Conclave.ConfigCenter;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Config;

/// <summary>The one table from configuration-center refusals to gRPC and HTTP statuses.</summary>
public static class ConfigErrors
{
    public static (StatusCode Grpc, int Http, string Title) Of(ConfigErrorKind kind) => kind switch
    {
        ConfigErrorKind.NotFound => (StatusCode.NotFound, StatusCodes.Status404NotFound, "not found"),
        ConfigErrorKind.NoRelease => (StatusCode.NotFound, StatusCodes.Status404NotFound, "no release"),
        ConfigErrorKind.AlreadyExists => (StatusCode.AlreadyExists, StatusCodes.Status409Conflict, "already exists"),
        ConfigErrorKind.Conflict => (StatusCode.Aborted, StatusCodes.Status409Conflict, "concurrent edit"),
        ConfigErrorKind.InvalidDocument => (StatusCode.InvalidArgument, StatusCodes.Status422UnprocessableEntity, "invalid document"),
        ConfigErrorKind.InvalidSchema => (StatusCode.InvalidArgument, StatusCodes.Status422UnprocessableEntity, "invalid schema"),
        ConfigErrorKind.TooLarge => (StatusCode.InvalidArgument, StatusCodes.Status413PayloadTooLarge, "too large"),
        ConfigErrorKind.FailedPrecondition => (StatusCode.FailedPrecondition, StatusCodes.Status412PreconditionFailed, "failed precondition"),
        ConfigErrorKind.PermissionDenied => (StatusCode.PermissionDenied, StatusCodes.Status403Forbidden, "permission denied"),
        ConfigErrorKind.Unauthenticated => (StatusCode.Unauthenticated, StatusCodes.Status401Unauthorized, "sign-in required"),
        ConfigErrorKind.SecretUnavailable => (StatusCode.FailedPrecondition, StatusCodes.Status412PreconditionFailed, "secret unavailable"),
        _ => (StatusCode.InvalidArgument, StatusCodes.Status400BadRequest, "invalid argument"),
    };

    public static RpcException ToRpc(ConfigCenterException e)
    {
        var trailers = new Metadata
        {
            { ErrorCatalogue.CodeTrailer, e.Kind.ToString() },
            { ErrorCatalogue.DetailTrailer, new string(e.Message.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray()) },
        };
        return new RpcException(new Status(Of(e.Kind).Grpc, e.Message), trailers);
    }

    public static IResult ToProblem(ConfigCenterException e, HttpContext context)
    {
        var (_, http, title) = Of(e.Kind);
        var extensions = new Dictionary<string, object?> { ["code"] = e.Kind.ToString() };
        if (e.Line is { } line)
        {
            extensions["line"] = line;
            extensions["column"] = e.Column;
        }

        if (e.CurrentRevision is { } revision)
        {
            extensions["currentRevision"] = revision;
        }

        return Results.Problem(detail: e.Message, instance: context.Request.Path, statusCode: http, title: title, type: $"https://conclave.dev/problems/{e.Kind}", extensions: extensions);
    }
}

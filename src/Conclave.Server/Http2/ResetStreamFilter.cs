using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Http2;

/// <summary>
/// The first middleware on the gRPC listeners: a request whose client reset its stream before the request reached
/// the application is dropped there. Otherwise each of those streams runs a whole gRPC call that fails reading its
/// message, with an exception through every async frame: a client opening and resetting streams as fast as it can
/// (HTTP/2 rapid reset, CVE-2023-44487) made the member spend its CPU on them, and other clients' puts took 0.5 to
/// 1 s instead of 60 ms. Dropped here, such a stream costs Kestrel's bookkeeping only.
/// </summary>
internal static class ResetStreamFilter
{
    public static void Use(IApplicationBuilder app) =>
        app.Use(static (context, next) =>
            HttpProtocol.IsHttp2(context.Request.Protocol) && context.RequestAborted.IsCancellationRequested ? Task.CompletedTask : next(context));
}

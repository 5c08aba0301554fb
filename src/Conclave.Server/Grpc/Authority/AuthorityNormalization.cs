using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// Connection middleware for the gRPC listeners: Kestrel reads each HTTP/2 connection through an
/// <see cref="AuthorityNormalizingReader"/>, so etcd clients that send a URL as :authority are served as etcd
/// serves them instead of having their streams reset.
/// </summary>
internal static class AuthorityNormalization
{
    public static void Use(ListenOptions listen, Http2Limits limits)
    {
        listen.Use(next => async context =>
        {
            var transport = context.Transport;
            context.Transport = new Transport(new AuthorityNormalizingReader(transport.Input, limits.HeaderTableSize, limits.MaxFrameSize), transport.Output);
            try
            {
                await next(context);
            }
            finally
            {
                context.Transport = transport;
            }
        });
    }

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

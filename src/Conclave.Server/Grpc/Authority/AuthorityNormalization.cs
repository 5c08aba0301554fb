using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// Connection middleware for the gRPC listeners: Kestrel reads each HTTP/2 connection through an
/// <see cref="AuthorityNormalizingReader"/>, so etcd clients that send a URL as :authority are served as etcd
/// serves them instead of having their streams reset.
/// </summary>
internal static class AuthorityNormalization
{
    public static void Use(ListenOptions listen, HeaderBlockLimits limits, HeaderBlockEvents events)
    {
        listen.Use(next => async context =>
        {
            var transport = context.Transport;
            context.Transport = new Transport(new AuthorityNormalizingReader(transport.Input, limits, events, context.ConnectionId), transport.Output);
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

    /// <summary>The log category and meter (when the host has metrics) the pre-parser reports to.</summary>
    public static HeaderBlockEvents CreateEvents(IServiceProvider? services)
    {
        var logger = services?.GetService<ILoggerFactory>()?.CreateLogger(HeaderBlockEvents.MeterName) ?? NullLogger.Instance;
        var meter = services?.GetService<IMeterFactory>()?.Create(HeaderBlockEvents.MeterName);
        return new HeaderBlockEvents(logger, meter);
    }

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

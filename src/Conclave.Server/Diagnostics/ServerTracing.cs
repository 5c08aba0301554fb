using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Conclave.Server;

/// <summary>
/// Traces, only when an OTLP collector is configured (<c>--otlp-endpoint</c> or the standard <c>OTEL_EXPORTER_OTLP_*</c>
/// variables): ASP.NET Core's span per gRPC and HTTP request, the consensus layer's <c>raft.propose</c> span per batch
/// (<see cref="Cluster.ClusterTracing"/>, a child of the request that proposed it or linked to it) and the server's own
/// spans (<see cref="Source"/>). Without a collector no tracer exists, nothing listens to these sources, and no span is
/// created on any path.
/// </summary>
public static class ServerTracing
{
    /// <summary>The server's ActivitySource name.</summary>
    public const string SourceName = "Conclave.Server";

    /// <summary>The service name spans carry unless <c>OTEL_SERVICE_NAME</c> says otherwise.</summary>
    public const string DefaultServiceName = "conclave";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>The collector's URL from the options or the environment, or null when traces are off.</summary>
    public static string? Endpoint(ServerOptions options) =>
        options.OtlpEndpoint is { Length: > 0 } e ? e
        : Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is { Length: > 0 } t ? t
        : Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 } a ? a
        : null;

    /// <summary>Checks <c>--otlp-endpoint</c> and <c>--otlp-protocol</c> before anything starts.</summary>
    /// <exception cref="ArgumentException">Not an absolute http(s) URL, or an unknown protocol.</exception>
    public static void Validate(ServerOptions options)
    {
        if (options.OtlpEndpoint is { Length: > 0 } e && (!Uri.TryCreate(e, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"--otlp-endpoint '{e}': must be an http:// or https:// URL (the collector's, e.g. http://127.0.0.1:4317)");
        }

        if (options.OtlpProtocol is { } p && ParseProtocol(p) is null)
        {
            throw new ArgumentException($"--otlp-protocol '{p}': must be grpc or http/protobuf");
        }
    }

    /// <summary>Starts the tracer when a collector is configured; null otherwise. Disposing it flushes what is buffered.</summary>
    internal static TracerProvider? Start(ServerOptions options)
    {
        if (Endpoint(options) is null)
        {
            return null;
        }

        var resource = ResourceBuilder.CreateDefault();
        if (Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") is not { Length: > 0 })
        {
            resource.AddService(DefaultServiceName, serviceVersion: typeof(ServerTracing).Assembly.GetName().Version?.ToString(), serviceInstanceId: options.Name);
        }

        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(SourceName, Cluster.ClusterTracing.SourceName)
            .AddAspNetCoreInstrumentation()
            .AddOtlpExporter(o =>
            {
                // The environment's settings are already in o; the flags win over them.
                if (options.OtlpProtocol is { } p)
                {
                    o.Protocol = ParseProtocol(p)!.Value;
                }

                if (options.OtlpEndpoint is { Length: > 0 } e)
                {
                    var uri = new Uri(e);
                    // As with OTEL_EXPORTER_OTLP_ENDPOINT: a base URL gets the signal's path over HTTP.
                    o.Endpoint = o.Protocol == OtlpExportProtocol.HttpProtobuf && uri.AbsolutePath is "/" or ""
                        ? new Uri(uri, "v1/traces")
                        : uri;
                }
            })
            .Build();
    }

    private static OtlpExportProtocol? ParseProtocol(string value) => value.Trim().ToLowerInvariant() switch
    {
        "grpc" => OtlpExportProtocol.Grpc,
        "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
        _ => null,
    };
}

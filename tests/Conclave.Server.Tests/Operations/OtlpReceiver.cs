using System.Collections.Concurrent;
using System.Net;
using Conclave.Server.Tests.Operations.Otlp;

namespace Conclave.Server.Tests.Operations;

/// <summary>
/// A stand-in for an OpenTelemetry collector (none is installed here): accepts OTLP/HTTP protobuf exports at
/// <c>POST /v1/traces</c> on a free loopback port and keeps the spans they carry, decoded with the OTLP messages.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private const int MaxBodyBytes = 16 * 1024 * 1024;
    private readonly HttpListener listener = new();
    private readonly ConcurrentQueue<(Resource Resource, string Scope, Span Span)> spans = new();
    private readonly Task loop;

    private OtlpReceiver(int port)
    {
        Url = $"http://127.0.0.1:{port}";
        listener.Prefixes.Add(Url + "/");
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public int Exports { get; private set; }

    public IReadOnlyList<(Resource Resource, string Scope, Span Span)> Spans => spans.ToArray();

    public static OtlpReceiver Start()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new OtlpReceiver(FreePorts.Take(1)[0]);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // Another process took the probed port first.
            }
        }
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var response = context.Response;
            if (context.Request.HttpMethod != "POST" || context.Request.Url?.AbsolutePath != "/v1/traces")
            {
                response.StatusCode = 404;
                continue;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (body.Length > MaxBodyBytes)
            {
                response.StatusCode = 413;
                continue;
            }

            var request = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            foreach (var resource in request.ResourceSpans)
            {
                foreach (var scope in resource.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        spans.Enqueue((resource.Resource, scope.Scope?.Name ?? "", span));
                    }
                }
            }

            Exports++;
            // An empty ExportTraceServiceResponse: everything accepted.
            response.StatusCode = 200;
            response.ContentType = "application/x-protobuf";
            response.ContentLength64 = 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        listener.Close();
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}

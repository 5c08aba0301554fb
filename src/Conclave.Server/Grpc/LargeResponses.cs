using Conclave.Api.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Grpc;

/// <summary>
/// The bytes of large read responses (Range, Txn; over gRPC and the JSON gateway) this member holds until their
/// clients have taken them, at most <see cref="ServerOptions.MaxPendingResponseBytes"/>. A response is serialized
/// whole before it is sent, and a client need not read it: 16 full ranges over 95 MiB of state, on one connection, that
/// the client never read took the member from 333 MiB to 1.9 GiB, and a connection may open 1,000 streams. Responses
/// under <see cref="Threshold"/> are not counted (the hot path), and one response is always admitted when none is
/// pending, however large, so the whole keyspace can still be read.
/// </summary>
/// <remarks>
/// When a response stops counting: Kestrel ends an HTTP/2 request as soon as the handler has returned, while the
/// response's bytes still wait in the stream for the client's flow-control window (and gRPC writes a unary response
/// without flushing it). So a middleware around the reads flushes a counted response itself after the handler (the
/// flush returns once the stream has handed nearly all of it to the connection) and only then lets go of its bytes.
/// </remarks>
internal sealed class LargeResponses
{
    /// <summary>Responses smaller than this are not counted.</summary>
    public const int Threshold = 1024 * 1024;

    /// <summary>The reads whose responses are counted (the middleware wraps only these).</summary>
    private static readonly string[] Paths = ["/etcdserverpb.KV/Range", "/etcdserverpb.KV/Txn", "/v3/kv/range", "/v3/kv/txn"];

    private readonly Lock gate = new();
    private long pending;

    /// <summary>The pending bytes (for tests and metrics).</summary>
    public long Pending
    {
        get
        {
            lock (gate)
            {
                return pending;
            }
        }
    }

    /// <summary>Adds the middleware that holds a counted response's bytes until they are handed to the connection.</summary>
    public static void Use(IApplicationBuilder app)
    {
        var large = app.ApplicationServices.GetRequiredService<LargeResponses>();
        app.Use(next => context => IsRead(context.Request.Path) ? large.HoldAsync(context, next) : next(context));
    }

    /// <summary>
    /// Counts a response of <paramref name="bytes"/> until it has been handed to the connection, or refuses it with
    /// etcd's "too many requests" when it would take the pending bytes past <paramref name="max"/>.
    /// </summary>
    public void Admit(long bytes, long max, HttpContext http)
    {
        if (bytes < Threshold)
        {
            return;
        }

        lock (gate)
        {
            if (pending > 0 && pending + bytes > max)
            {
                throw new ConclaveErrorException(
                    ErrorCode.TooManyRequests,
                    $"{pending} bytes of large responses are waiting for their clients; this one ({bytes} bytes) would pass the limit of {max} (--max-pending-response-bytes)");
            }

            pending += bytes;
        }

        http.Features.Set(new Counted(bytes));
    }

    private async Task HoldAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
            if (context.Features.Get<Counted>() is not null && !context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: its response goes with it.
        }
        finally
        {
            if (context.Features.Get<Counted>() is { } counted)
            {
                context.Features.Set<Counted>(null);
                lock (gate)
                {
                    pending -= counted.Bytes;
                }
            }
        }
    }

    private static bool IsRead(PathString path)
    {
        foreach (var read in Paths)
        {
            if (path.Equals(read, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private sealed record Counted(long Bytes);
}

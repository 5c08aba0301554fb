using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Config;

/// <summary>
/// The one place that makes every refusal on <c>/api/v1</c> an RFC 7807 problem detail, including those ASP.NET Core
/// answers before an endpoint runs: a body that does not bind (malformed JSON, an unknown enum value, the wrong
/// content type: minimal APIs throw them as <see cref="BadHttpRequestException"/> because
/// <see cref="RouteHandlerOptions.ThrowOnBadRequest"/> is set), a body over the member's limit (answered before it is
/// read, after draining it, so the client reads the answer instead of a reset), and a route or method that does not
/// match. Endpoints' own refusals go through <see cref="ConfigErrors"/>.
/// </summary>
internal static class ApiRefusals
{
    /// <summary>The prefix this applies to.</summary>
    public const string Prefix = "/api/v1";

    /// <summary>Most bytes of an over-limit body read (and dropped) to answer it; past this the connection is closed.</summary>
    private const long DrainBytes = 64L * 1024 * 1024;

    public static void AddServices(IServiceCollection services) =>
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

    public static void Use(WebApplication app) => app.Use(async (http, next) =>
    {
        if (!http.Request.Path.StartsWithSegments(Prefix))
        {
            await next(http);
            return;
        }

        var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (limit?.MaxRequestBodySize is long max && http.Request.ContentLength is long length && length > max)
        {
            await DrainAsync(http, limit, length);
            await WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "too large", "TooLarge",
                $"the request body is {length} bytes; this member takes at most {max} bytes in one request (--max-request-bytes plus 512 KiB)");
            return;
        }

        // A body without a length (chunked) is counted as it is read: past the limit the rest is drained, so the client,
        // still sending, reads the answer instead of a reset. Kestrel's own limit then only stops what is past draining.
        var body = http.Request.Body;
        if (limit is { IsReadOnly: false, MaxRequestBodySize: long bodyLimit } && http.Request.ContentLength is null)
        {
            limit.MaxRequestBodySize = DrainBytes;
            http.Request.Body = new LimitedBody(body, bodyLimit);
        }

        var counted = http.Request.Body as LimitedBody;
        try
        {
            await next(http);
        }
        catch (BadHttpRequestException e) when (!http.Response.HasStarted && counted is not { Exceeded: true })
        {
            await WriteAsync(http, e.StatusCode, TitleOf(e.StatusCode), CodeOf(e.StatusCode), Describe(e, limit));
            return;
        }
        catch (BadHttpRequestException) when (!http.Response.HasStarted)
        {
            // Over the limit; answered below.
        }
        finally
        {
            http.Request.Body = body;
        }

        // The binder may swallow the refusal of the read (it is an IOException): the count says what happened.
        if (counted is { Exceeded: true } && !http.Response.HasStarted)
        {
            await DrainAsync(http, body);
            await WriteAsync(http, StatusCodes.Status413PayloadTooLarge, TitleOf(StatusCodes.Status413PayloadTooLarge), CodeOf(StatusCodes.Status413PayloadTooLarge),
                $"the request body is over this member's limit of {counted.Limit} bytes in one request (--max-request-bytes plus 512 KiB)");
            return;
        }

        // An error answered without a body: a route or method that does not match, or a status set by the framework.
        if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Response.ContentLength is null && http.Response.ContentType is null)
        {
            var (status, detail) = Unanswered(http);
            await WriteAsync(http, status, TitleOf(status), CodeOf(status), detail);
        }
    });

    private static (int Status, string Detail) Unanswered(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        var status = http.Response.StatusCode;
        if (status == StatusCodes.Status404NotFound && (path.EndsWith("/items/", StringComparison.Ordinal) || path.EndsWith("/items", StringComparison.Ordinal)))
        {
            return (StatusCodes.Status400BadRequest, "the item key is empty: name the item after .../items/ (1 to 256 characters, escaped as a URL path segment)");
        }

        return status switch
        {
            StatusCodes.Status404NotFound => (status, $"no API at {http.Request.Method} {path}: see docs/config-center.md for the paths under {Prefix}"),
            StatusCodes.Status405MethodNotAllowed => (status, $"{http.Request.Method} is not allowed on {path}" +
                (http.Response.Headers.Allow.Count > 0 ? $"; allowed: {string.Join(", ", http.Response.Headers.Allow.ToArray())}" : "")),
            StatusCodes.Status415UnsupportedMediaType => (status, $"the body must be JSON (Content-Type: application/json), not '{http.Request.ContentType}'"),
            _ => (status, $"{http.Request.Method} {path} was refused with {status} and no reason"),
        };
    }

    private static string Describe(BadHttpRequestException e, IHttpMaxRequestBodySizeFeature? limit)
    {
        if (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return $"the request body is over this member's limit of {limit?.MaxRequestBodySize} bytes in one request (--max-request-bytes plus 512 KiB)";
        }

        if (e.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return "the body must be JSON (Content-Type: application/json): " + e.Message;
        }

        if (e.InnerException is JsonException json)
        {
            var where = json.Path is { Length: > 0 } p ? $" at {p}" : "";
            var position = json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})" : "";
            return $"the request body is not the JSON this call takes{where}{position}: {Reason(json)}";
        }

        return e.Message;
    }

    /// <summary>What System.Text.Json says, without its position suffix; an unknown enum value lists the known ones.</summary>
    private static string Reason(JsonException json)
    {
        var message = json.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        message = (cut > 0 ? message[..cut] : message).Trim();
        const string converted = "could not be converted to ";
        var at = message.IndexOf(converted, StringComparison.Ordinal);
        if (at >= 0)
        {
            // The converter names the body's type, not the field's: the field is the last step of the path.
            var field = json.Path is { Length: > 1 } p ? p[(p.LastIndexOf('.') + 1)..].TrimEnd(']') : "";
            var typeName = message[(at + converted.Length)..].TrimEnd('.');
            if (EnumValues.TryGetValue(field, out var names) || EnumValues.TryGetValue(typeName, out names))
            {
                return $"{(field.Length > 0 ? field : "the value")} must be one of {string.Join(", ", names.Select(JsonNamingPolicy.CamelCase.ConvertName))}";
            }

            return field.Length > 0 ? $"{field} does not have the type this call takes" : $"the body is not a {typeName[(typeName.LastIndexOf('.') + 1)..]}";
        }

        return message;
    }

    /// <summary>
    /// The enums request bodies carry, by the field that carries them and by full name (no reflection: the member is
    /// also built ahead of time).
    /// </summary>
    private static readonly Dictionary<string, string[]> EnumValues = new(StringComparer.OrdinalIgnoreCase)
    {
        ["format"] = Enum.GetNames<ConfigCenter.Model.NamespaceFormat>(),
        ["permission"] = Enum.GetNames<ConfigCenter.Model.ConfigPermission>(),
        ["status"] = Enum.GetNames<ConfigCenter.Model.DeliveryStatus>(),
        [typeof(ConfigCenter.Model.NamespaceFormat).FullName!] = Enum.GetNames<ConfigCenter.Model.NamespaceFormat>(),
        [typeof(ConfigCenter.Model.ConfigPermission).FullName!] = Enum.GetNames<ConfigCenter.Model.ConfigPermission>(),
        [typeof(ConfigCenter.Model.DeliveryStatus).FullName!] = Enum.GetNames<ConfigCenter.Model.DeliveryStatus>(),
    };

    private static async Task DrainAsync(HttpContext http, IHttpMaxRequestBodySizeFeature limit, long length)
    {
        if (length > DrainBytes || limit.IsReadOnly)
        {
            http.Response.Headers.Connection = "close";
            return;
        }

        limit.MaxRequestBodySize = DrainBytes;
        await DrainAsync(http, http.Request.Body);
    }

    /// <summary>Reads and drops the rest of <paramref name="body"/> (Kestrel stops it past <see cref="DrainBytes"/>).</summary>
    private static async Task DrainAsync(HttpContext http, Stream body)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await body.ReadAsync(buffer, http.RequestAborted) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            http.Response.Headers.Connection = "close";
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string TitleOf(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "invalid argument",
        StatusCodes.Status404NotFound => "not found",
        StatusCodes.Status405MethodNotAllowed => "method not allowed",
        StatusCodes.Status408RequestTimeout => "request timeout",
        StatusCodes.Status413PayloadTooLarge => "too large",
        StatusCodes.Status415UnsupportedMediaType => "unsupported media type",
        _ => "refused",
    };

    private static string CodeOf(int status) => status switch
    {
        StatusCodes.Status404NotFound => "NotFound",
        StatusCodes.Status405MethodNotAllowed => "MethodNotAllowed",
        StatusCodes.Status413PayloadTooLarge => "TooLarge",
        StatusCodes.Status415UnsupportedMediaType => "UnsupportedMediaType",
        _ => "InvalidArgument",
    };

    private static Task WriteAsync(HttpContext http, int status, string title, string code, string detail)
    {
        http.Response.StatusCode = status;
        return Http.Problems.Of(status, title, code, detail, http).ExecuteAsync(http);
    }

    /// <summary>A request body that refuses (413) to be read past <see cref="Limit"/> bytes, as Kestrel's own limit would.</summary>
    private sealed class LimitedBody(Stream inner, long limit) : Stream
    {
        private long read;

        public long Limit { get; } = limit;

        public bool Exceeded => read > Limit;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            read += n;
            return read > Limit ? throw new BadHttpRequestException("the request body is too large", StatusCodes.Status413PayloadTooLarge) : n;
        }
    }
}

using System.Text;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Diagnostics;
using Conclave.Server.Grpc;
using Conclave.Server.Node;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Server.Http;

/// <summary>
/// The HTTP/1.1 listener: etcd's <c>/health</c>, Prometheus <c>/metrics</c>, and etcd's JSON gateway for KV
/// (<c>POST /v3/kv/range|put|deleterange|txn|compaction</c>, proto field names, base64 bytes, int64 as strings).
/// </summary>
internal static class HttpEndpoints
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", HealthAsync);
        app.MapGet("/metrics", (ConclaveNode node, ServerMetrics metrics, MeterBridge bridge, FollowerProgress progress) => Results.Text(Metrics(node, metrics, bridge, progress), "text/plain; version=0.0.4"));
        app.MapGet("/version", () => Results.Json(new Dictionary<string, string> { ["etcdserver"] = MaintenanceService.ApiVersion, ["etcdcluster"] = MaintenanceService.ApiVersion, ["conclave"] = typeof(HttpEndpoints).Assembly.GetName().Version?.ToString() ?? "0" }, HttpJsonContext.Default.DictionaryStringString));
        MapGateway<RangeRequest, RangeResponse>(app, "/v3/kv/range", RangeRequest.Parser, static (sp, r, user, ct) => sp.GetRequiredService<KvFrontend>().RangeAsync(r, user, ct));
        MapGateway<PutRequest, PutResponse>(app, "/v3/kv/put", PutRequest.Parser, static (sp, r, user, ct) => sp.GetRequiredService<KvFrontend>().PutAsync(r, user, ct));
        MapGateway<DeleteRangeRequest, DeleteRangeResponse>(app, "/v3/kv/deleterange", DeleteRangeRequest.Parser, static (sp, r, user, ct) => sp.GetRequiredService<KvFrontend>().DeleteRangeAsync(r, user, ct));
        MapGateway<TxnRequest, TxnResponse>(app, "/v3/kv/txn", TxnRequest.Parser, static (sp, r, user, ct) => sp.GetRequiredService<KvFrontend>().TxnAsync(r, user, ct));
        MapGateway<CompactionRequest, CompactionResponse>(app, "/v3/kv/compaction", CompactionRequest.Parser, static (sp, r, user, ct) => sp.GetRequiredService<KvFrontend>().CompactAsync(r, user, ct));

        // etcd's gateway signs in here; the token then goes in the Authorization header of the calls above.
        MapGateway<AuthenticateRequest, AuthenticateResponse>(app, "/v3/auth/authenticate", AuthenticateRequest.Parser,
            static (sp, r, _, ct) => AuthService.AuthenticateAsync(sp.GetRequiredService<ConclaveNode>(), sp.GetRequiredService<Security.Auth.Passwords>(), sp.GetRequiredService<Security.Auth.IAuthTokens>(), r, ct));
    }

    private static async Task<IResult> HealthAsync(ConclaveNode node, CancellationToken cancellationToken)
    {
        var reason = await UnhealthyReasonAsync(node, cancellationToken);
        var body = new Dictionary<string, string> { ["health"] = reason is null ? "true" : "false", ["reason"] = reason ?? "" };
        return Results.Json(body, HttpJsonContext.Default.DictionaryStringString, statusCode: reason is null ? 200 : 503);
    }

    /// <summary>Why this member is unhealthy (etcd's wording), or null when it is healthy. Shared by /health and the console.</summary>
    internal static async Task<string?> UnhealthyReasonAsync(ConclaveNode node, CancellationToken cancellationToken)
    {
        var status = node.Consensus.Status;
        string? reason = null;
        if (status.LeaderId == 0)
        {
            reason = "RAFT NO LEADER";
        }
        else if (node.Store.Alarms.Count > 0)
        {
            reason = "ALARM " + string.Join(",", node.Store.Alarms.Select(a => a.Alarm.ToString().ToUpperInvariant()));
        }
        else if (!status.IsLearner)
        {
            // A learner has no linearizable reads; it is healthy while it follows a leader (checked above).
            try
            {
                using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(1), node.Options.TimeProvider);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutTimer.Token);
                await node.Consensus.ReadBarrierAsync(timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or Cluster.ConsensusUnavailableException)
            {
                reason = "QGET ERROR: " + e.Message;
            }
        }

        return reason;
    }

    private static string Metrics(ConclaveNode node, ServerMetrics metrics, MeterBridge bridge, FollowerProgress progress)
    {
        var text = new StringBuilder();
        metrics.WritePrometheus(text);
        bridge.WritePrometheus(text);
        var status = node.Consensus.Status;
        void Gauge(string name, string help, double value)
        {
            text.Append("# HELP ").Append(name).Append(' ').AppendLine(help);
            text.Append("# TYPE ").Append(name).AppendLine(" gauge");
            text.Append(name).Append(' ').AppendLine(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Gauge("conclave_server_has_leader", "1 when this member knows a leader.", status.LeaderId != 0 ? 1 : 0);
        Gauge("conclave_server_is_leader", "1 when this member is the leader.", status.LeaderId == status.MemberId && status.LeaderId != 0 ? 1 : 0);
        Gauge("conclave_raft_term", "Current Raft term.", status.Term);
        Gauge("conclave_raft_commit_index", "Highest committed log index.", status.CommitIndex);
        Gauge("conclave_raft_applied_index", "Highest applied log index.", status.AppliedIndex);
        Gauge("conclave_raft_apply_lag", "On a follower: the leader's last known commit index minus this member's applied index.", progress.Lag);
        Gauge("conclave_raft_follower_stalled", "1 when this follower has not applied, within the stall threshold, what the leader had committed that long ago.", progress.Stalled ? 1 : 0);
        Gauge("conclave_mvcc_revision", "Current store revision.", node.Store.Revision);
        Gauge("conclave_mvcc_compact_revision", "Last compaction revision.", node.Store.CompactRevision);
        Gauge("conclave_mvcc_db_size_bytes", "Bytes of retained history charged against the quota.", node.Store.SizeBytes);
        Gauge("conclave_mvcc_keys", "Keys with retained history.", node.Store.KeyCount);
        var (chunked, live) = node.Store.ValueArenaBytes;
        Gauge("conclave_mvcc_value_chunk_bytes", "Bytes of the chunks the user keyspace packs its keys and values into (ADR 0017).", chunked);
        Gauge("conclave_mvcc_value_live_bytes", "Bytes of those chunks that retained keys and versions refer to; the rest is reclaimed after compactions.", live);
        Gauge("conclave_quota_bytes", "Space quota.", node.Options.QuotaBackendBytes);
        return text.ToString();
    }

    private static void MapGateway<TRequest, TResponse>(IEndpointRouteBuilder app, string path, MessageParser<TRequest> parser, Func<IServiceProvider, TRequest, string, CancellationToken, Task<TResponse>> call)
        where TRequest : IMessage<TRequest>, new()
        where TResponse : IMessage
    {
        app.MapPost(path, async (HttpContext http, Security.Auth.Authenticator auth, ErrorMappingInterceptor edge, MalformedRequests malformed, ConclaveNode node, LargeResponses large) =>
        {
            // The JSON of the largest message the gRPC port takes is larger than that message (base64 bytes): the
            // body may be as large as that JSON, so that the request is judged by its size as a message, as etcd does.
            var maxMessage = node.Options.MaxMessageBytes;
            var maxBody = MaxGatewayBodyBytes(maxMessage);
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = GatewayDrainBytes;
            }

            var body = await ReadBodyAsync(http.Request.Body, maxBody, http.RequestAborted);
            if (body is null)
            {
                // Far larger than any message the gRPC port takes: what etcd answers for such a message (its exact
                // size is unknown here: a body this large is not kept).
                return Error(StatusCode.ResourceExhausted, $"grpc: received message larger than max (more than {maxBody} bytes of JSON vs. {maxMessage})");
            }

            TRequest request;
            try
            {
                request = string.IsNullOrWhiteSpace(body) ? new TRequest() : Parser.Parse<TRequest>(body);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException)
            {
                var refused = malformed.Refuse(path, typeof(TRequest), e);
                return refused.StatusCode == StatusCode.Internal
                    ? Error(StatusCode.InvalidArgument, "malformed JSON request: " + e.Message)
                    : Error(refused.StatusCode, refused.Status.Detail, refused.Trailers.GetValue(ErrorCatalogue.DetailTrailer));
            }

            // etcd's gateway hands the request to its gRPC server, whose message limit answers first; a message within
            // it and over --max-request-bytes gets etcd's "request is too large" from the server's own check below.
            if (request.CalculateSize() is var size && size > maxMessage)
            {
                return Error(StatusCode.ResourceExhausted, $"grpc: received message larger than max ({size} vs. {maxMessage})");
            }

            try
            {
                var response = await call(http.RequestServices, request, auth.Resolve(http), http.RequestAborted);
                // Its JSON is held as text and then as bytes: base64 values, about four times the message.
                large.Admit(4L * response.CalculateSize(), node.Options.MaxPendingResponseBytes, http);
                return Results.Text(Formatter.Format(response), "application/json");
            }
            catch (Exception e)
            {
                var rpc = edge.Map(e, path, http.RequestAborted);
                var detail = rpc.Trailers.GetValue(ErrorCatalogue.DetailTrailer);
                return Error(rpc.StatusCode, rpc.Status.Detail, detail);
            }
        });
    }

    /// <summary>
    /// The largest JSON body the gateway reads: the base64 JSON of a <paramref name="maxMessage"/>-byte message (4/3 of
    /// it) with room for field names and whitespace.
    /// </summary>
    internal static long MaxGatewayBodyBytes(int maxMessage) => (maxMessage * 3L / 2) + (64 * 1024);

    /// <summary>
    /// Most bytes of one gateway body read at all. A longer body is read only to answer it (etcd reads any body): a
    /// client that writes its whole body before it reads gets the answer instead of a reset. Past this, the connection closes.
    /// </summary>
    private const long GatewayDrainBytes = 64L * 1024 * 1024;

    /// <summary>The body as text, or null when it holds more than <paramref name="maxBytes"/> (the rest is read and dropped).</summary>
    private static async Task<string?> ReadBodyAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        using var kept = new MemoryStream();
        var over = false;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                over |= kept.Length + read > maxBytes;
                if (!over)
                {
                    await kept.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null; // past GatewayDrainBytes
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        if (over)
        {
            return null;
        }

        kept.Position = 0;
        using var reader = new StreamReader(kept, Encoding.UTF8); // as before: a byte order mark is dropped
        return await reader.ReadToEndAsync(cancellationToken);
    }

    private static IResult Error(StatusCode code, string message, string? detail = null)
    {
        var body = new Dictionary<string, object> { ["error"] = message, ["message"] = message, ["code"] = (int)code };
        if (detail is not null)
        {
            body["detail"] = detail;
        }

        return Results.Json(body, HttpJsonContext.Default.DictionaryStringObject, statusCode: code switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.FailedPrecondition => 400,
            StatusCode.NotFound => 404,
            StatusCode.PermissionDenied => 403,
            StatusCode.Unauthenticated => 401,
            StatusCode.ResourceExhausted => 429,
            StatusCode.Unavailable => 503,
            StatusCode.Unimplemented => 501,
            StatusCode.Cancelled => 499,
            _ => 500,
        });
    }
}

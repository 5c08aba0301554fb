using Conclave.Api.Etcd;
using Conclave.Api.Errors;
using Conclave.Api.Raft;
using Conclave.Server.Node;
using Conclave.Server.Security.Auth;
using Conclave.Storage;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>etcd's KV service over gRPC.</summary>
/// <remarks>
/// The hot path: it maps errors and records metrics itself, as <see cref="ErrorMappingInterceptor"/> does for the
/// other services, because gRPC's interceptor pipeline cost about as much per call as the mapping it carries
/// (two more state machines and delegates per call; see docs/benchmarks.md, ninth session).
/// </remarks>
internal sealed class KvService(KvFrontend kv, Authenticator auth, ErrorMappingInterceptor edge, TimeProvider clock, LargeResponses large, ConclaveNode node) : KV.KVBase
{
    public override Task<RangeResponse> Range(RangeRequest request, ServerCallContext context) =>
        ObserveAsync(nameof(Range), static (kv, r, user, ct) => kv.RangeAsync(r, user, ct), request, context, admit: true);

    public override Task<PutResponse> Put(PutRequest request, ServerCallContext context) =>
        ObserveAsync(nameof(Put), static (kv, r, user, ct) => kv.PutAsync(r, user, ct), request, context);

    public override Task<DeleteRangeResponse> DeleteRange(DeleteRangeRequest request, ServerCallContext context) =>
        ObserveAsync(nameof(DeleteRange), static (kv, r, user, ct) => kv.DeleteRangeAsync(r, user, ct), request, context);

    public override Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context) =>
        ObserveAsync(nameof(Txn), static (kv, r, user, ct) => kv.TxnAsync(r, user, ct), request, context, admit: true);

    public override Task<CompactionResponse> Compact(CompactionRequest request, ServerCallContext context) =>
        ObserveAsync(nameof(Compact), static (kv, r, user, ct) => kv.CompactAsync(r, user, ct), request, context);

    private Task<TResponse> ObserveAsync<TRequest, TResponse>(
        string method, Func<KvFrontend, TRequest, string, CancellationToken, Task<TResponse>> call, TRequest request, ServerCallContext context, bool admit = false)
        where TResponse : IMessage
    {
        var started = clock.GetTimestamp();
        Task<TResponse> running;
        try
        {
            running = call(kv, request, auth.Resolve(context), context.CancellationToken);
            if (admit)
            {
                running = AdmitAsync(running, context);
            }
        }
        catch (Exception e)
        {
            running = Task.FromException<TResponse>(e);
        }

        return edge.ObserveAsync(started, method, running, context);
    }

    /// <summary>A read's response, once the member may hold it until the client takes it (<see cref="LargeResponses"/>).</summary>
    private async Task<TResponse> AdmitAsync<TResponse>(Task<TResponse> reading, ServerCallContext context)
        where TResponse : IMessage
    {
        var response = await reading.ConfigureAwait(false);
        large.Admit(response.CalculateSize(), node.Options.MaxPendingResponseBytes, context.GetHttpContext());
        return response;
    }
}

/// <summary>
/// The KV operations shared by gRPC and the JSON gateway: validation, read barriers (reads are linearizable
/// unless <c>serializable</c> is set), proposals for writes, headers. It is the write front: every write a client
/// causes — KV, the gateway, and the lock and election recipes — is checked here (<see cref="RequestValidator"/>,
/// <c>--max-request-bytes</c>) before it is proposed, and runs as the caller's user: reads are checked here against the
/// auth store after the read barrier, writes here (to refuse early) and where they are applied (ADR 0014). Every key it reaches is a user key: the configuration center's
/// and the cluster's records are in the system keyspace, which no command built here names (ADR 0012).
/// </summary>
internal sealed class KvFrontend(ConclaveNode node)
{
    public async Task<RangeResponse> RangeAsync(RangeRequest request, string user, CancellationToken cancellationToken)
    {
        RequestValidator.ValidateRange(request);
        if (!request.Serializable)
        {
            await node.Consensus.ReadBarrierAsync(cancellationToken);
        }

        // After the barrier: the auth store is at least as new as the read.
        node.Store.Auth.CheckRange(user, request.Key, request.RangeEnd);

        var response = node.Store.Range(request);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async Task<PutResponse> PutAsync(PutRequest request, string user, CancellationToken cancellationToken)
    {
        RequestValidator.ValidatePut(request);
        CheckSize(request);
        node.Store.Auth.CheckPutRequest(user, request);
        var response = await node.ProposeAsync<PutResponse>(new Command { Put = request, User = user }, cancellationToken);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, string user, CancellationToken cancellationToken)
    {
        RequestValidator.ValidateDelete(request);
        CheckSize(request);
        node.Store.Auth.CheckDeleteRequest(user, request);
        var response = await node.ProposeAsync<DeleteRangeResponse>(new Command { DeleteRange = request, User = user }, cancellationToken);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async Task<TxnResponse> TxnAsync(TxnRequest request, string user, CancellationToken cancellationToken)
    {
        RequestValidator.ValidateTxn(request, node.Options.MaxTxnOps);
        CheckSize(request);
        if (IsReadOnly(request))
        {
            // A read-only txn needs no log entry: a read barrier makes it linearizable, as etcd does.
            await node.Consensus.ReadBarrierAsync(cancellationToken);
            node.Store.Auth.CheckTxn(user, request);
            return WithHeader(node.Store.ReadOnlyTxn(request));
        }

        // Checked here to refuse early, and again where it is applied, against the auth store at that point of the log.
        node.Store.Auth.CheckTxn(user, request);
        return WithHeader(await node.ProposeAsync<TxnResponse>(new Command { Txn = request, User = user }, cancellationToken));
    }

    public async Task<CompactionResponse> CompactAsync(CompactionRequest request, string user, CancellationToken cancellationToken)
    {
        node.Store.Auth.CheckAdmin(user);
        var response = await node.ProposeAsync<CompactionResponse>(new Command { Compaction = request, User = user }, cancellationToken);
        response.Header = node.Fill(response.Header);
        return response;
    }

    private TxnResponse WithHeader(TxnResponse response)
    {
        response.Header = node.Fill(response.Header);
        return response;
    }

    private void CheckSize(IMessage request)
    {
        var size = request.CalculateSize();
        if (size > node.Options.MaxRequestBytes)
        {
            throw new ConclaveErrorException(ErrorCode.RequestTooLarge, $"request is {size} bytes; the limit is {node.Options.MaxRequestBytes} bytes (--max-request-bytes)");
        }
    }

    internal static bool IsReadOnly(TxnRequest r) =>
        r.Success.All(IsReadOnly) && r.Failure.All(IsReadOnly);

    private static bool IsReadOnly(RequestOp op) => op.RequestCase switch
    {
        RequestOp.RequestOneofCase.RequestRange => true,
        RequestOp.RequestOneofCase.RequestTxn => IsReadOnly(op.RequestTxn),
        _ => false,
    };
}

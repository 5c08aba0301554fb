using Conclave.Api.Etcd;
using Conclave.Server.Node;
using Grpc.Core;
using Microsoft.Extensions.Hosting;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Watch service: many watches multiplexed on one bidirectional stream.</summary>
internal sealed class WatchService(ConclaveNode node, Security.Auth.Authenticator auth, IHostApplicationLifetime lifetime, ServerMetrics metrics) : Watch.WatchBase
{
    public override async Task Watch(IAsyncStreamReader<WatchRequest> requestStream, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
    {
        // The stream ends when the client goes away, or promptly when this member stops.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping, node.Consensus.Stopping);
        // The stream's user is who opened it (etcd reads the token once per stream too). An ended or forged token does
        // not fail the stream: each watch it asks for is answered created + canceled with the reason, as etcd does, so
        // clients see the error on that watch (and sign in again) instead of reconnecting the stream forever.
        string user = "";
        Api.Errors.ConclaveErrorException? refused = null;
        try
        {
            user = auth.Resolve(context);
        }
        catch (Api.Errors.ConclaveErrorException e)
        {
            refused = e;
        }

        // The connection's watch budget (ConnectionWatchBudget.Use on the client listeners); a stream served some other
        // way (a test host) has one of its own.
        var budget = context.GetHttpContext().Features.Get<ConnectionWatchBudget>()
            ?? new ConnectionWatchBudget(node.Options.MaxWatchesPerConnection, node.Options.MaxWatchKeyBytesPerConnection);
        var session = new WatchSession(node, responseStream, metrics, node.Options.WatchProgressNotifyInterval, budget) { User = user, Refused = refused };
        var reader = ReadRequestsAsync(requestStream, session, linked);
        try
        {
            await session.RunAsync(linked.Token);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // Client gone or server stopping: the stream simply ends.
        }
        finally
        {
            await linked.CancelAsync();
            // The request reader ends when the call completes; do not hold the call open waiting for it.
            _ = reader.ContinueWith(static _ => { }, TaskScheduler.Default);
            session.Dispose();
        }
    }

    private static async Task ReadRequestsAsync(IAsyncStreamReader<WatchRequest> requests, WatchSession session, CancellationTokenSource linked)
    {
        try
        {
            while (await requests.MoveNext(linked.Token))
            {
                await session.PostAsync(requests.Current, linked.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or RpcException or InvalidOperationException)
        {
            // The client closed or reset the stream; the session ends with it.
            await linked.CancelAsync();
        }
    }
}

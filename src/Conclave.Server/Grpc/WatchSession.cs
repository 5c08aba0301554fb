using System.Threading.Channels;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Server.Node;
using Conclave.Storage.Watch;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// Serves one Watch stream. A single loop owns the response stream: it handles create / cancel / progress
/// requests and moves every watcher's cursor through the event history. A slow client slows only its own
/// loop (the write awaits HTTP/2 flow control); the server never buffers events for it, because the history is
/// the buffer. If the history a watcher still needs is compacted, the watcher is cancelled with the compact
/// revision, never silently skipped. Requests wait in a queue of <see cref="ControlQueueLength"/> (etcd's control
/// buffer is 16 too); when it is full the stream's reader waits (<see cref="BoundedChannelFullMode.Wait"/>), so a
/// client that sends requests faster than the loop answers them is held back by HTTP/2 flow control, and a client
/// that also stops reading answers stops the loop and then its own requests: nothing grows without bound.
/// </summary>
internal sealed class WatchSession(ConclaveNode node, IServerStreamWriter<WatchResponse> responses, ServerMetrics metrics, TimeSpan progressInterval, ConnectionWatchBudget connection) : IDisposable
{
    private const int MaxEventsPerResponse = 1000;

    /// <summary>
    /// Keys and values one response carries, at most (a revision's events stay together, so one revision may pass it). A
    /// response is held whole until its client takes it: 1,000 events of 1 MiB values were a 1 GiB message (past 2 GiB
    /// protobuf cannot write it at all), on every stream of a connection whose client does not read.
    /// </summary>
    internal const long MaxBytesPerResponse = 1024 * 1024;

    /// <summary>Create / cancel / progress requests read from the stream and not yet handled, at most.</summary>
    internal const int ControlQueueLength = 16;

    private readonly Channel<WatchRequest> control = Channel.CreateBounded<WatchRequest>(new BoundedChannelOptions(ControlQueueLength)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
        SingleWriter = true,
    });
    private readonly Dictionary<long, Watcher> watchers = [];
    private readonly List<Event> events = [];
    private readonly List<RevisionEvents> scratch = [];
    private TaskCompletionSource wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
    private WatchResponse? heldBack;
    private long nextWatchId;
    private bool progressRequested;
    private DateTimeOffset nextProgress = node.Options.TimeProvider.GetUtcNow() + progressInterval;
    private long checkedAuthRevision = -1;

    /// <summary>
    /// Who opened the stream. A watch is created only over keys the user may read, and is canceled (permission denied)
    /// as soon as the auth store changes so that the user may no longer read all of them: a watch never delivers a key
    /// its user may not read.
    /// </summary>
    public string User { get; init; } = "";

    /// <summary>Why the stream's credentials were refused (an ended or forged token): every watch is refused with it.</summary>
    public ConclaveErrorException? Refused { get; init; }

    /// <summary>A cancel reason as etcd writes it: the gRPC status error's text.</summary>
    internal static string CancelReason(ErrorCode code) =>
        $"rpc error: code = {ErrorCatalogue.StatusOf(code)} desc = {ErrorCatalogue.MessageOf(code)}";

    /// <summary>Queues a request for the loop; waits while the queue is full.</summary>
    public async ValueTask PostAsync(WatchRequest request, CancellationToken cancellationToken)
    {
        await control.Writer.WriteAsync(request, cancellationToken);
        Volatile.Read(ref wake).TrySetResult();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var store = node.Store;
        while (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var upTo = store.Signal.Revision;
            if (upTo == 0)
            {
                upTo = store.Revision;
            }

            while (control.Reader.TryRead(out var request))
            {
                await HandleAsync(request, cancellationToken);
            }

            await RecheckPermissionsAsync(cancellationToken);
            var behind = false;
            foreach (var watcher in watchers.Values.ToList())
            {
                behind |= await PumpAsync(watcher, upTo, cancellationToken);
            }

            if (progressRequested && !behind)
            {
                progressRequested = false;
                await SendAsync(new WatchResponse { Header = node.Header(upTo), WatchId = -1 }, cancellationToken);
            }

            var now = node.Options.TimeProvider.GetUtcNow();
            if (now >= nextProgress)
            {
                nextProgress = now + progressInterval;
                foreach (var w in watchers.Values)
                {
                    if (w.ProgressNotify && w.IsSyncedTo(upTo))
                    {
                        await SendAsync(new WatchResponse { Header = node.Header(upTo), WatchId = w.Id }, cancellationToken);
                    }
                }
            }

            await FlushAsync(cancellationToken);
            if (behind)
            {
                continue;
            }

            var delay = nextProgress - now;
            using var timer = new CancellationTokenSource(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, node.Options.TimeProvider);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            var stopped = Task.Delay(Timeout.InfiniteTimeSpan, node.Options.TimeProvider, both.Token);
            await Task.WhenAny(store.Signal.WaitAsync(upTo), Volatile.Read(ref wake).Task, stopped);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Sends what <paramref name="watcher"/> has not seen up to <paramref name="upTo"/>; true if more remains.</summary>
    private async ValueTask<bool> PumpAsync(Watcher watcher, long upTo, CancellationToken cancellationToken)
    {
        if (watcher.IsSyncedTo(upTo))
        {
            return false;
        }

        events.Clear();
        if (!watcher.Read(node.Store.Events, upTo, MaxEventsPerResponse, events, scratch, MaxBytesPerResponse))
        {
            Remove(watcher);
            await SendAsync(new WatchResponse
            {
                Header = node.Header(upTo),
                WatchId = watcher.Id,
                Canceled = true,
                CompactRevision = node.Store.CompactRevision,
                CancelReason = "etcdserver: mvcc: required revision has been compacted",
            }, cancellationToken);
            return false;
        }

        if (events.Count > 0)
        {
            var response = new WatchResponse { Header = node.Header(upTo), WatchId = watcher.Id };
            response.Events.AddRange(events);
            await SendAsync(response, cancellationToken);
            metrics.EventsSent(events.Count);
        }

        return !watcher.IsSyncedTo(upTo);
    }

    private async ValueTask HandleAsync(WatchRequest request, CancellationToken cancellationToken)
    {
        switch (request.RequestUnionCase)
        {
            case WatchRequest.RequestUnionOneofCase.CreateRequest:
                await CreateAsync(request.CreateRequest, cancellationToken);
                break;
            case WatchRequest.RequestUnionOneofCase.CancelRequest:
                var id = request.CancelRequest.WatchId;
                if (watchers.TryGetValue(id, out var canceled))
                {
                    Remove(canceled);
                    await SendAsync(new WatchResponse { Header = node.Header(node.Store.Revision), WatchId = id, Canceled = true }, cancellationToken);
                }

                break;
            case WatchRequest.RequestUnionOneofCase.ProgressRequest:
                progressRequested = true;
                break;
        }
    }

    private async ValueTask CreateAsync(WatchCreateRequest create, CancellationToken cancellationToken)
    {
        var (revision, _) = node.Store.Revisions;
        var id = create.WatchId;
        if (id == 0)
        {
            while (watchers.ContainsKey(nextWatchId))
            {
                nextWatchId++;
            }

            id = nextWatchId++;
        }
        else if (watchers.ContainsKey(id))
        {
            await SendAsync(new WatchResponse
            {
                Header = node.Header(revision),
                WatchId = id,
                Created = true,
                Canceled = true,
                CancelReason = $"etcdserver: duplicate watch id {id}",
            }, cancellationToken);
            return;
        }

        var refusal = Refused is { } e && node.Store.Auth.Enabled ? e.Code
            : !node.Store.Auth.MayRead(User, create.Key.Span, create.RangeEnd.Span) ? ErrorCode.PermissionDenied
            : (ErrorCode?)null;
        if (refusal is { } code)
        {
            await SendAsync(new WatchResponse
            {
                Header = node.Header(revision),
                WatchId = id,
                Created = true,
                Canceled = true,
                CancelReason = CancelReason(code),
            }, cancellationToken);
            return;
        }

        // Past a limit the create is answered as etcd answers a create it refuses (created and canceled, with the reason),
        // so the stream and its other watches go on.
        var refused = watchers.Count >= node.Options.MaxWatchesPerStream
            ? $"{watchers.Count} watches are open on this stream; the limit is {node.Options.MaxWatchesPerStream} (--max-watches-per-stream)"
            : connection.TryTake(KeyBytes(create.Key, create.RangeEnd));
        if (refused is not null)
        {
            await SendAsync(new WatchResponse
            {
                Header = node.Header(revision),
                WatchId = id,
                Created = true,
                Canceled = true,
                CancelReason = $"{ErrorCatalogue.MessageOf(ErrorCode.TooManyWatches)}: {refused}",
            }, cancellationToken);
            return;
        }

        var noPut = create.Filters.Contains(WatchCreateRequest.Types.FilterType.Noput);
        var noDelete = create.Filters.Contains(WatchCreateRequest.Types.FilterType.Nodelete);
        var start = create.StartRevision > 0 ? create.StartRevision : revision + 1;
        var watcher = new Watcher(id, create.Key, create.RangeEnd, start, create.PrevKv, noPut, noDelete, create.ProgressNotify);
        watchers[id] = watcher;
        metrics.WatcherAdded();
        await SendAsync(new WatchResponse { Header = node.Header(revision), WatchId = id, Created = true }, cancellationToken);
    }

    /// <summary>After any change of the auth store, cancels the watches whose keys the user may no longer read.</summary>
    private async ValueTask RecheckPermissionsAsync(CancellationToken cancellationToken)
    {
        var auth = node.Store.Auth;
        if (auth.Revision == checkedAuthRevision)
        {
            return;
        }

        checkedAuthRevision = auth.Revision;
        foreach (var watcher in watchers.Values.ToList())
        {
            if (!auth.MayRead(User, watcher.Key.Span, watcher.RangeEnd.Span))
            {
                Remove(watcher);
                await SendAsync(new WatchResponse
                {
                    Header = node.Header(node.Store.Revision),
                    WatchId = watcher.Id,
                    Canceled = true,
                    CancelReason = CancelReason(ErrorCode.PermissionDenied),
                }, cancellationToken);
            }
        }
    }

    // Responses are written with BufferHint and the newest one is held back; FlushAsync writes it without the
    // hint, which flushes them all: one send per loop pass instead of one per watcher.
    private async Task SendAsync(WatchResponse response, CancellationToken cancellationToken)
    {
        if (heldBack is { } previous)
        {
            responses.WriteOptions = Buffered;
            await responses.WriteAsync(previous, cancellationToken);
        }

        heldBack = response;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (heldBack is { } last)
        {
            heldBack = null;
            responses.WriteOptions = null;
            await responses.WriteAsync(last, cancellationToken);
        }
    }

    private void Remove(Watcher watcher)
    {
        watchers.Remove(watcher.Id);
        connection.Return(KeyBytes(watcher.Key, watcher.RangeEnd));
        metrics.WatcherRemoved();
    }

    private static long KeyBytes(Google.Protobuf.ByteString key, Google.Protobuf.ByteString rangeEnd) => (long)key.Length + rangeEnd.Length;

    public void Dispose()
    {
        foreach (var watcher in watchers.Values.ToList())
        {
            Remove(watcher);
        }
    }
}

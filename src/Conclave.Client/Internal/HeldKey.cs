using Google.Protobuf;

namespace Conclave.Client.Internal;

/// <summary>
/// Tracks a lock holder's or leader's key: <see cref="Lost"/> fires when the key is deleted (seen on a watch
/// from its create revision on, over the client's shared watch stream), when the session ends, or when the
/// owner stops tracking it.
/// </summary>
internal sealed class HeldKey
{
    private readonly CancellationTokenSource _lost;
    private readonly CancellationTokenSource _stop = new();
    private Task _watch = Task.CompletedTask;

    private HeldKey(ConclaveSession session)
    {
        _lost = CancellationTokenSource.CreateLinkedTokenSource(session.Lost);
        Lost = _lost.Token;
    }

    /// <summary>The token stays valid (and cancelled) after <see cref="StopAsync"/> released its source.</summary>
    public CancellationToken Lost { get; }

    public static HeldKey Start(ConclaveClient client, ConclaveSession session, ByteString key, long createRevision)
    {
        var held = new HeldKey(session);
        held._watch = Task.Run(() => held.WatchAsync(client, key, createRevision));
        return held;
    }

    public async ValueTask StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        await _lost.CancelAsync().ConfigureAwait(false);

        // Unhooks from the session's token: a long session taking many locks must not collect a callback per lock.
        _lost.Dispose();
        _stop.Dispose();
    }

    private async Task WatchAsync(ConclaveClient client, ByteString key, long createRevision)
    {
        var stop = _stop.Token;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, _lost.Token);
        var from = createRevision + 1;
        var failures = 0;
        while (!either.IsCancellationRequested)
        {
            try
            {
                await foreach (var e in client.WatchAsync(key, new WatchOptions { StartRevision = from, NoPut = true, BufferCapacity = 1 }, either.Token).ConfigureAwait(false))
                {
                    if (e.Type == WatchEventType.Delete)
                    {
                        Fire();
                        return;
                    }
                }

                return;
            }
            catch (OperationCanceledException) when (either.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                // The client is gone: nothing can be known about the key any more.
                Fire();
                return;
            }
            catch (ConclaveException)
            {
                // Compacted past the key's creation, or the watch was canceled: look at the key itself.
                try
                {
                    var now = await client.GetAsync(key, null, either.Token).ConfigureAwait(false);
                    if (now.First is null || now.First.CreateRevision != createRevision)
                    {
                        Fire();
                        return;
                    }

                    from = now.Revision + 1;
                    failures = 0;
                }
                catch (Exception e) when (e is ConclaveException or OperationCanceledException)
                {
                    failures++;
                    try
                    {
                        await Task.Delay(Backoff.Delay(failures, client.Options.RetryBaseDelay, client.Options.RetryMaxDelay), client.Options.TimeProvider, either.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }
    }

    private void Fire()
    {
        try
        {
            // Callbacks run on the thread pool, not on the watch loop.
            _ = _lost.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // Stopped meanwhile: already cancelled.
        }
    }
}

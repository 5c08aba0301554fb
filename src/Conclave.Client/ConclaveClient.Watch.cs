using System.Runtime.CompilerServices;
using Conclave.Client.Internal;
using Google.Protobuf;

namespace Conclave.Client;

// Watches: every watch of this client shares one multiplexed gRPC stream.
public sealed partial class ConclaveClient
{
    /// <summary>
    /// Streams the changes to a key (or range) as they happen. The watch is created when enumeration starts and
    /// canceled when it stops. Each event is delivered once, in revision order, also across server restarts and
    /// reconnects: the client resumes from the revision after the last one it handed over. A slow consumer slows
    /// the stream down; nothing is dropped.
    /// </summary>
    /// <param name="key">Key (or range start), encoded as UTF-8.</param>
    /// <param name="options">Range, start revision, previous values and filters.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The events, in revision order.</returns>
    /// <exception cref="WatchCompactedException">The start (or resume) revision has been compacted.</exception>
    /// <exception cref="WatchCanceledException">The server canceled the watch.</exception>
    public IAsyncEnumerable<WatchEvent> WatchAsync(string key, WatchOptions? options = null, CancellationToken cancellationToken = default) =>
        WatchAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Streams the changes to a key (or range); see <see cref="WatchAsync(string, WatchOptions?, CancellationToken)"/>.</summary>
    /// <param name="key">Key (or range start) bytes; copied.</param>
    /// <param name="options">Range, start revision, previous values and filters.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The events, in revision order.</returns>
    public IAsyncEnumerable<WatchEvent> WatchAsync(ReadOnlyMemory<byte> key, WatchOptions? options = null, CancellationToken cancellationToken = default) =>
        WatchAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>Streams the changes to a key (or range); see <see cref="WatchAsync(string, WatchOptions?, CancellationToken)"/>.</summary>
    /// <param name="key">Key (or range start) bytes.</param>
    /// <param name="options">Range, start revision, previous values and filters.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The events, in revision order.</returns>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(ByteString key, WatchOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var batch in WatchBatchesAsync(key, options, cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < batch.Events.Count; i++)
            {
                yield return batch.Events[i];
            }
        }
    }

    /// <summary>
    /// Like <see cref="WatchAsync(string, WatchOptions?, CancellationToken)"/>, but yields the server's responses
    /// as they arrive: the events of one response together, and progress notifications
    /// (<see cref="WatchOptions.ProgressNotify"/>) as empty batches.
    /// </summary>
    /// <param name="key">Key (or range start), encoded as UTF-8.</param>
    /// <param name="options">Range, start revision, previous values and filters.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The batches, in revision order.</returns>
    public IAsyncEnumerable<WatchBatch> WatchBatchesAsync(string key, WatchOptions? options = null, CancellationToken cancellationToken = default) =>
        WatchBatchesAsync(KeyBytes.From(key), options, cancellationToken);

    /// <summary>
    /// Like <see cref="WatchAsync(ByteString, WatchOptions?, CancellationToken)"/>, but yields the server's
    /// responses as they arrive; see <see cref="WatchBatchesAsync(string, WatchOptions?, CancellationToken)"/>.
    /// </summary>
    /// <param name="key">Key (or range start) bytes.</param>
    /// <param name="options">Range, start revision, previous values and filters.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The batches, in revision order.</returns>
    public async IAsyncEnumerable<WatchBatch> WatchBatchesAsync(ByteString key, WatchOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new WatchOptions();
        if (options.StartRevision < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.StartRevision, "WatchOptions.StartRevision must not be negative.");
        }

        var (start, end) = KeyBytes.Range(KeyBytes.Checked(key), options.Prefix, options.FromKey, options.RangeEnd);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var registration = _watches.Register(start, end, options);
        try
        {
            while (await registration.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (registration.TryRead(out var batch))
                {
                    yield return batch;
                }
            }
        }
        finally
        {
            _watches.Unregister(registration);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Reads the chunks of one snapshot image from a peer, from a byte offset to the end of the file. Each chunk carries
/// the offset it starts at. Ends early when the connection drops; throws <see cref="SnapshotGoneException"/> when the
/// peer no longer holds the image.
/// </summary>
internal delegate IAsyncEnumerable<(long Offset, ReadOnlyMemory<byte> Data)> SnapshotChunkSource(SnapshotDescriptor snapshot, long offset, CancellationToken cancellationToken);

/// <summary>
/// Asks the other members to keep the image <paramref name="snapshot"/> names, if they hold it too (see
/// <see cref="Peers.PeerRequestKind.HoldSnapshot"/>); best effort.
/// </summary>
internal delegate Task SnapshotHolder(SnapshotDescriptor snapshot, CancellationToken cancellationToken);

/// <summary>The member asked for a snapshot image no longer holds it (a newer snapshot replaced it).</summary>
internal sealed class SnapshotGoneException(string message) : Exception(message);

/// <summary>
/// A lagging member's side of catch-up by snapshot (ADR 0010): fetches the image a <see cref="SnapshotDescriptor"/>
/// names into <c>snap/incoming</c>, in chunks, in the background, independent of any Raft request. A dropped
/// connection or a restart of this member resumes from the bytes already on disk (flushed every
/// <see cref="FlushBytes"/>); the whole image is verified (frame, index, term, xxHash64) before it is offered for
/// installation. One image at a time: a descriptor naming another image replaces the download. While it fetches, it asks
/// the other members to keep the same image if they hold it (members take snapshots at the same indexes, and the same
/// state makes the same image): a leader elected meanwhile then offers that image, and the fetch continues from it.
/// </summary>
internal sealed class SnapshotCatchUp : IAsyncDisposable
{
    /// <summary>Received bytes between two flushes to disk: what a crash of this member can cost.</summary>
    public const long FlushBytes = 64L * 1024 * 1024;

    private const string PartSuffix = ".part";
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    /// <summary>How often a fetch asks the other members again to keep its image (well within their pins' grace).</summary>
    private static readonly TimeSpan HoldEvery = TimeSpan.FromSeconds(3);

    /// <summary>A fetch that failed for good (the image is gone, corrupt, or cannot fit) is tried again after this.</summary>
    private static readonly TimeSpan RetryFailedAfter = TimeSpan.FromSeconds(5);

    private readonly string directory;
    private readonly SnapshotChunkSource source;
    private readonly SnapshotHolder? hold;
    private readonly ILogger logger;
    private readonly ClusterMetrics metrics;
    private readonly TimeProvider time;
    private readonly Lock gate = new();
    private readonly CancellationTokenSource disposed = new();
    private Download? current;
    private int waiting;

    /// <param name="hold">Asks the other members to keep the image being fetched (null: nobody is asked).</param>
    public SnapshotCatchUp(string directory, SnapshotChunkSource source, SnapshotHolder? hold, ILogger logger, ClusterMetrics metrics, TimeProvider time)
    {
        this.directory = directory;
        this.source = source;
        this.hold = hold;
        this.logger = logger;
        this.metrics = metrics;
        this.time = time;
        PrivateFiles.CreateDirectory(directory);
    }

    /// <summary>Bytes of the image being fetched that are on this member now (0 when none is being fetched).</summary>
    public long ReceivedBytes => Volatile.Read(ref current)?.Received ?? 0;

    /// <summary>Total bytes of the image being fetched (0 when none is being fetched).</summary>
    public long ExpectedBytes => Volatile.Read(ref current)?.Snapshot.FileLength ?? 0;

    /// <summary>
    /// The path of the complete, verified image <paramref name="snapshot"/> names, once it is here; starts or continues
    /// fetching it otherwise and waits at most <paramref name="wait"/> for it. The caller owns the returned file (it
    /// moves it into place); null means "not yet".
    /// </summary>
    /// <exception cref="SnapshotNotReadyException">The fetch of this image failed for good (its <c>Failure</c> says why);
    /// it is tried again when asked after a pause.</exception>
    public async ValueTask<string?> TryTakeAsync(SnapshotDescriptor snapshot, TimeSpan wait, CancellationToken cancellationToken)
    {
        Download download;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed.IsCancellationRequested, this);
            if (current is null || !current.Snapshot.SameImage(snapshot) || (current.Task.IsCanceled)
                || (current.Task.IsFaulted && time.GetElapsedTime(current.EndedAt) >= RetryFailedAfter))
            {
                current?.Cancel();
                current = new Download(this, snapshot);
                current.Start();
            }

            // The same image may be offered by another member now (the leader changed and holds it too): the fetch
            // goes on from where it is, from that member.
            current.Offer(snapshot);
            download = current;
        }

        // One request waits at a time: DotNext serializes a member's Raft requests, so requests queued behind a waiting
        // one would each add their wait and could outlast the leader's timeout, losing the answer that installs.
        if (!download.Task.IsCompleted && wait > TimeSpan.Zero && Interlocked.Exchange(ref waiting, 1) == 0)
        {
            try
            {
                await Task.WhenAny(download.Task, Task.Delay(wait, time, cancellationToken)).ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref waiting, 0);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        if (download.Task.IsFaulted)
        {
            // Failed for good: the caller needs another image (a newer description), not another wait for this one.
            var failure = download.Task.Exception?.InnerException?.Message ?? "unknown";
            throw new SnapshotNotReadyException(snapshot.Index, download.Received, snapshot.FileLength, failure);
        }

        if (!download.Task.IsCompletedSuccessfully)
        {
            return null;
        }

        lock (gate)
        {
            if (ReferenceEquals(current, download))
            {
                current = null;
            }
        }

        return await download.Task.ConfigureAwait(false);
    }

    /// <summary>The incoming file of an image: its identity is in the name, so a restart finds what it had.</summary>
    private string PartPath(SnapshotDescriptor snapshot) => Path.Combine(directory, string.Create(
        CultureInfo.InvariantCulture, $"{snapshot.Index:D20}-{snapshot.Term:D20}-{snapshot.Hash:x16}{PartSuffix}"));

    public async ValueTask DisposeAsync()
    {
        Download? last;
        Task canceling;
        lock (gate)
        {
            if (disposed.IsCancellationRequested)
            {
                return;
            }

            // The token is canceled at once (under the lock); its callbacks run outside it.
            canceling = disposed.CancelAsync();
            last = current;
            current = null;
        }

        await canceling.ConfigureAwait(false);

        if (last is not null)
        {
            last.Cancel();
            await ((Task)last.Task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        disposed.Dispose();
    }

    /// <summary>One image being fetched.</summary>
    private sealed class Download(SnapshotCatchUp owner, SnapshotDescriptor snapshot)
    {
        private readonly CancellationTokenSource canceled = CancellationTokenSource.CreateLinkedTokenSource(owner.disposed.Token);
        private long received;

        private SnapshotDescriptor latest = snapshot;

        /// <summary>The image, as named by the newest descriptor of it (whose source is asked next).</summary>
        public SnapshotDescriptor Snapshot => Volatile.Read(ref latest);

        public void Offer(SnapshotDescriptor offered) => Volatile.Write(ref latest, offered);

        public Task<string> Task { get; private set; } = System.Threading.Tasks.Task.FromCanceled<string>(new CancellationToken(canceled: true));

        public long Received => Volatile.Read(ref received);

        /// <summary>When the fetch failed for good (a timestamp of the owner's clock).</summary>
        public long EndedAt { get; private set; }

        public void Start() => Task = System.Threading.Tasks.Task.Run(async () =>
        {
            try
            {
                return await RunAsync(canceled.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                EndedAt = owner.time.GetTimestamp();
                throw;
            }
        });

        public void Cancel()
        {
            try
            {
                canceled.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private async Task<string> RunAsync(CancellationToken token)
        {
            var path = owner.PartPath(Snapshot);
            DropOtherImages(path);
            if (LackingSpace(path) is { } lacking)
            {
                Log.SnapshotFetchRefused(owner.logger, Snapshot.ToString(), lacking);
                throw new IOException(lacking);
            }

            using var holding = CancellationTokenSource.CreateLinkedTokenSource(token);
            var holder = HoldAsync(holding.Token);
            try
            {
                return await FetchAsync(path, token).ConfigureAwait(false);
            }
            finally
            {
                await holding.CancelAsync().ConfigureAwait(false);
                await holder.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        /// <summary>Asks the other members to keep this image until the fetch ends.</summary>
        private async Task HoldAsync(CancellationToken token)
        {
            if (owner.hold is null)
            {
                return;
            }

            while (!token.IsCancellationRequested)
            {
                try
                {
                    await owner.hold(Snapshot, token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Best effort: without it a leader change restarts the fetch from the new leader's image.
                }

                await System.Threading.Tasks.Task.Delay(HoldEvery, owner.time, token).ConfigureAwait(false);
            }
        }

        private async Task<string> FetchAsync(string path, CancellationToken token)
        {
            var started = owner.time.GetTimestamp();
            var interruptions = 0;
            var delay = FirstRetryDelay;
            var file = PrivateFiles.Open(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            try
            {
                if (file.Length > Snapshot.FileLength)
                {
                    file.SetLength(0);
                }

                file.Position = file.Length;
                Volatile.Write(ref received, file.Length);
                var resumedFrom = file.Length;
                owner.metrics.SnapshotFetches.Add(1);
                Log.SnapshotFetchStarted(owner.logger, Snapshot.ToString(), Snapshot.Source.ToString("x", CultureInfo.InvariantCulture), resumedFrom);
                var unflushed = 0L;
                var lastReport = owner.time.GetTimestamp();
                while (received < Snapshot.FileLength)
                {
                    var asked = Snapshot;
                    if (interruptions > 0)
                    {
                        Log.SnapshotFetchResumed(owner.logger, asked.Index, asked.Source.ToString("x", CultureInfo.InvariantCulture), received, asked.FileLength);
                    }

                    try
                    {
                        await foreach (var (offset, data) in owner.source(asked, received, token).ConfigureAwait(false))
                        {
                            if (offset != received || data.Length == 0 || data.Length > Snapshot.FileLength - received)
                            {
                                throw new InvalidDataException(
                                    $"the peer sent {data.Length} bytes at offset {offset} while {received} of {Snapshot.FileLength} bytes were here");
                            }

                            await file.WriteAsync(data, token).ConfigureAwait(false);
                            Volatile.Write(ref received, received + data.Length);
                            unflushed += data.Length;
                            owner.metrics.SnapshotBytesReceived.Add(data.Length);
                            if (unflushed >= FlushBytes)
                            {
                                file.Flush(flushToDisk: true);
                                unflushed = 0;
                            }

                            if (owner.time.GetElapsedTime(lastReport) >= ProgressEvery)
                            {
                                lastReport = owner.time.GetTimestamp();
                                Log.SnapshotFetchProgress(owner.logger, Snapshot.Index, received, Snapshot.FileLength,
                                    (int)(received * 100 / Snapshot.FileLength), Rate(received - resumedFrom, owner.time.GetElapsedTime(started)));
                            }

                            delay = FirstRetryDelay; // progress: the next interruption retries quickly again
                        }

                        if (received < Snapshot.FileLength)
                        {
                            throw new EndOfStreamException("the peer ended the stream early");
                        }
                    }
                    catch (Exception e) when (!token.IsCancellationRequested && e is not InvalidDataException
                                              && (e is not SnapshotGoneException || Snapshot.Source != asked.Source))
                    {
                        interruptions++;
                        owner.metrics.SnapshotFetchInterruptions.Add(1);
                        file.Flush(flushToDisk: true);
                        unflushed = 0;
                        Log.SnapshotFetchInterrupted(owner.logger, Snapshot.Index, received, Snapshot.FileLength, e.Message, (long)delay.TotalMilliseconds);
                        await System.Threading.Tasks.Task.Delay(delay, owner.time, token).ConfigureAwait(false);
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LastRetryDelay.Ticks));
                    }
                }

                file.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is SnapshotGoneException or InvalidDataException)
            {
                Log.SnapshotFetchRefused(owner.logger, Snapshot.ToString(), e.Message);
                await file.DisposeAsync().ConfigureAwait(false);
                if (e is InvalidDataException)
                {
                    File.Delete(path);
                }

                throw;
            }
            finally
            {
                await file.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                var (index, term, hash) = SnapshotFile.Verify(path);
                if (index != Snapshot.Index || term != Snapshot.Term || hash != Snapshot.Hash)
                {
                    throw new InvalidDataException($"the image holds index {index}, term {term}, hash {hash:x16}; {Snapshot} was expected");
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
            {
                Log.SnapshotFetchCorrupt(owner.logger, Snapshot.Index, e.Message);
                File.Delete(path);
                throw new InvalidDataException(e.Message, e);
            }

            var elapsed = owner.time.GetElapsedTime(started);
            Log.SnapshotFetched(owner.logger, Snapshot.Index, Snapshot.FileLength, (long)elapsed.TotalMilliseconds,
                Rate(Snapshot.FileLength, elapsed), interruptions);
            return path;
        }

        private static long Rate(long bytes, TimeSpan elapsed) =>
            elapsed <= TimeSpan.Zero ? 0 : (long)(bytes / elapsed.TotalSeconds / 1_000_000);

        /// <summary>Keeps one image in <c>snap/incoming</c>: the partial file of an image no longer wanted goes.</summary>
        private void DropOtherImages(string keep)
        {
            foreach (var other in Directory.EnumerateFiles(owner.directory, "*" + PartSuffix))
            {
                if (!string.Equals(other, keep, StringComparison.Ordinal))
                {
                    File.Delete(other);
                }
            }
        }

        /// <summary>Why an image cannot fit (null when it can): refused instead of filling the disk the log needs.</summary>
        private string? LackingSpace(string path)
        {
            var have = File.Exists(path) ? new FileInfo(path).Length : 0;
            var free = new DriveInfo(owner.directory).AvailableFreeSpace;
            return Snapshot.FileLength - have > free
                ? $"it needs {Snapshot.FileLength - have} more bytes and the disk of {owner.directory} has {free} free"
                : null;
        }
    }
}

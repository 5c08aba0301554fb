using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Deletes large files (old snapshot images) in the background and a step at a time.
/// </summary>
/// <remarks>
/// Freeing a gigabyte file's blocks is slow, and the file system does it inside its journal: unlinking a synced 1.4 GB
/// file took 400-500 ms here and held every concurrent <c>fdatasync</c> (the Raft log's) for up to 90 ms, even when
/// called from another thread. Cutting the file down 16 MiB at a time, with a short pause between cuts, holds them for
/// about 10 ms at most (measured in the twenty-seventh session; RocksDB's delete scheduler does the same). A file is
/// renamed to <c>*.deleting</c> first, at once: nothing that lists the directory sees it again, and one left by a crash
/// is found and finished by <see cref="DeleteLeftovers"/>. A file being cut must not be read: callers delete only what
/// nothing reads.
/// </remarks>
internal sealed class FileReclaimer
{
    /// <summary>Ending of a file being deleted.</summary>
    public const string Suffix = ".deleting";

    /// <summary>Bytes freed in one step.</summary>
    internal const long StepBytes = 16L * 1024 * 1024;

    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(5);

    private readonly ILogger logger;
    private readonly Func<CancellationToken, Task> pause;
    private readonly Lock sync = new();
    private Task tail = Task.CompletedTask;
    private readonly CancellationTokenSource hurry = new();

    public FileReclaimer(ILogger logger)
        : this(logger, static token => Task.Delay(Pause, TimeProvider.System, token))
    {
    }

    /// <summary>For tests: <paramref name="pause"/> runs between steps, and its token is cancelled by <see cref="DrainAsync"/>.</summary>
    internal FileReclaimer(ILogger logger, Func<CancellationToken, Task> pause)
    {
        this.logger = logger;
        this.pause = pause;
    }

    /// <summary>Deletions queued or running; completes when all queued so far are done.</summary>
    public Task Idle
    {
        get
        {
            lock (sync)
            {
                return tail;
            }
        }
    }

    /// <summary>Takes <paramref name="path"/> out of its directory's listing now and frees its space in the background.</summary>
    /// <exception cref="IOException">The file could not be renamed (it stays as it was).</exception>
    public void Delete(string path)
    {
        var doomed = path + Suffix;
        File.Move(path, doomed, overwrite: true);
        Enqueue(doomed);
    }

    /// <summary>Finishes deleting what an earlier run of this member left renamed in <paramref name="directory"/>.</summary>
    public void DeleteLeftovers(string directory)
    {
        foreach (var path in Directory.EnumerateFiles(directory, "*" + Suffix))
        {
            Enqueue(path);
        }
    }

    /// <summary>Finishes the queued deletions without pausing between steps.</summary>
    public async Task DrainAsync()
    {
        await hurry.CancelAsync().ConfigureAwait(false);
        await Idle.ConfigureAwait(false);
    }

    private void Enqueue(string path)
    {
        lock (sync)
        {
            tail = tail.ContinueWith(_ => RemoveAsync(path), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    private async Task RemoveAsync(string path)
    {
        try
        {
            if (File.ResolveLinkTarget(path, returnFinalTarget: false) is not null)
            {
                File.Delete(path); // a link: only the link is this member's to remove, never what it points at
                return;
            }

            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
            {
                var length = RandomAccess.GetLength(handle);
                while (length > StepBytes)
                {
                    length -= StepBytes;
                    RandomAccess.SetLength(handle, length);
                    if (!hurry.IsCancellationRequested)
                    {
                        try
                        {
                            await pause(hurry.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (hurry.IsCancellationRequested)
                        {
                        }
                    }
                }
            }

            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.FileDeleteFailed(logger, path, e.Message);
        }
    }
}

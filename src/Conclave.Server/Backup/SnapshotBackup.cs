using System.Net;
using System.Security.Cryptography;
using Conclave.Cluster;
using Conclave.Server.Node;
using Conclave.Storage;

namespace Conclave.Server.Backup;

/// <summary>
/// Backups as files: saving the snapshot a member streams (<c>conclave snapshot save</c>), checking a saved file
/// (<c>snapshot status</c>) and seeding a new cluster's member from one (<c>snapshot restore</c>), as etcd's
/// <c>etcdctl</c>/<c>etcdutl</c> do. A saved file is the image the Maintenance <c>Snapshot</c> RPC sends: the state
/// machine's image, zero-padded to whole 512-byte pages, then the SHA-256 of everything before it.
/// </summary>
/// <remarks>
/// The file is untrusted (it travels and sits in backup storage): its hash is checked before anything else, its image
/// is parsed record by record with every count, length and ordering checked (<see cref="SnapshotImage"/>), and memory
/// stays bounded by the largest single value, whatever the file's size. A defect is an
/// <see cref="InvalidDataException"/> saying what is wrong.
/// </remarks>
public static class SnapshotBackup
{
    /// <summary>Bytes of the SHA-256 at the end of a saved file.</summary>
    public const int HashBytes = 32;

    /// <summary>The page size the image is padded to (etcdctl finds the hash by it, as in a bolt file).</summary>
    public const int PageBytes = 512;

    private const int BufferBytes = 1024 * 1024;

    /// <summary>
    /// Saves a snapshot to <paramref name="path"/>: <paramref name="download"/> writes it to <c>path.part</c> (private to
    /// this user: it holds every value, secrets included), which is then checked whole (hash and image), flushed to
    /// disk and renamed. A failed, cut or corrupt transfer leaves no file at <paramref name="path"/> and no part file.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes received are not a whole, intact snapshot.</exception>
    public static async Task<SnapshotFileStatus> SaveAsync(string path, Func<Stream, CancellationToken, ValueTask<long>> download, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(download);
        var part = path + ".part";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0, Options = FileOptions.Asynchronous };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            var file = new FileStream(part, options);
            await using (file.ConfigureAwait(false))
            {
                // Not disposed: that would close the file before it is flushed to disk; it holds nothing once flushed.
                var buffered = new BufferedStream(file, BufferBytes);
                await download(buffered, cancellationToken).ConfigureAwait(false);
                await buffered.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            var status = Inspect(part);
            File.Move(part, path, overwrite: true);
            return status with { Path = path };
        }
        catch
        {
            File.Delete(part);
            throw;
        }
    }

    /// <summary>
    /// Checks a saved file and describes it: its length (whole pages and a hash), its SHA-256, then its image record by
    /// record, and the padding after the image. With <paramref name="skipHashCheck"/>, the image is read from the
    /// start and whatever follows it is ignored (for a file whose hash is missing or damaged).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or not a Conclave snapshot (the message says which and where).</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public static SnapshotFileStatus Inspect(string path, bool skipHashCheck = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var file = OpenRead(path);
        var size = file.Length;
        var sha = skipHashCheck ? "" : Convert.ToHexStringLower(VerifyHash(file));
        file.Position = 0;
        var image = SnapshotImage.Inspect(file);
        if (!skipHashCheck)
        {
            CheckPadding(file, image.Length, size - HashBytes);
        }

        return SnapshotFileStatus.From(path, sha, size, image);
    }

    /// <summary>
    /// Writes a new member's data directory from a saved file, as <c>etcdutl snapshot restore</c> does: the state of the
    /// image (keyspaces with their revisions and compact revisions, leases, the auth store, the configuration center),
    /// in a new cluster whose members are the initial cluster's (the old cluster's membership records and alarms are
    /// left out) and whose id comes from the initial cluster and the token. Restore every member from the same file,
    /// each with its own name; then start them with <c>conclave serve</c> and the same name and initial cluster.
    /// </summary>
    /// <returns>What the new member's snapshot holds, and the new cluster's id.</returns>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt or not a Conclave snapshot.</exception>
    /// <exception cref="InvalidOperationException">The data directory is not empty.</exception>
    /// <exception cref="ArgumentException">The name, initial cluster or peer URL are wrong.</exception>
    public static async Task<SnapshotRestoreResult> RestoreAsync(SnapshotRestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Name, "--name");
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory, "--data-dir");
        var raft = RaftOptions(options);
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            // Checked before reading a multi-GB file, and again where the directory is written.
            throw new InvalidOperationException($"data directory {dataDirectory} is not empty; a restore writes a new member's data directory and never replaces one");
        }

        using var file = OpenRead(options.SnapshotPath);
        if (!options.SkipHashCheck)
        {
            VerifyHash(file);
        }

        // The header's applied index names the snapshot file; the rewrite then checks the whole image before writing it.
        file.Position = 0;
        var index = Math.Max(1, SnapshotImage.ReadAppliedIndex(file));
        SnapshotImageSummary? written = null;
        await RestoredDataDirectory.CreateAsync(raft, index, destination =>
        {
            file.Position = 0;
            written = SnapshotImage.Rewrite(file, destination, new SnapshotRewrite
            {
                DropSystemKeyPrefix = RestoredDataDirectory.MembershipRecordsPrefix,
                DropAlarms = true,
                AppliedIndex = index,
            });
        }, cancellationToken).ConfigureAwait(false);
        return new SnapshotRestoreResult(
            SnapshotFileStatus.From(options.SnapshotPath, "", new FileInfo(options.SnapshotPath).Length, written!),
            RestoredDataDirectory.ClusterId(raft),
            written!.SystemKeysDropped);
    }

    private static RaftNodeOptions RaftOptions(SnapshotRestoreOptions options)
    {
        var advertised = options.InitialAdvertisePeerUrl;
        if (string.IsNullOrWhiteSpace(options.InitialCluster) && string.IsNullOrWhiteSpace(advertised))
        {
            throw new ArgumentException("give --initial-cluster (name=peerURL,...) or --initial-advertise-peer-urls: the restored member needs its peer URL");
        }

        var members = ConclaveNode.ParseInitialCluster(options.InitialCluster, options.Name, advertised ?? "");
        if (!string.IsNullOrWhiteSpace(advertised) && !SameUrl(members[options.Name], advertised))
        {
            throw new ArgumentException(
                $"--initial-advertise-peer-urls {advertised} is not the peer URL --initial-cluster gives member '{options.Name}' ({members[options.Name]})");
        }

        return new RaftNodeOptions
        {
            MemberName = options.Name,
            DataDirectory = options.DataDirectory,
            // Only used when the initial cluster is empty, which it never is here (a lone member is name=its URL).
            PeerEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            InitialCluster = members,
            InitialClusterToken = string.IsNullOrEmpty(options.InitialClusterToken) ? "conclave-cluster" : options.InitialClusterToken,
        };
    }

    private static bool SameUrl(string a, string b) => string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes, FileOptions.SequentialScan);

    /// <summary>Checks the layout (whole pages, then the hash) and the SHA-256; returns the hash.</summary>
    private static byte[] VerifyHash(FileStream file)
    {
        var size = file.Length;
        if (size < PageBytes + HashBytes || (size - HashBytes) % PageBytes != 0)
        {
            throw new InvalidDataException(
                $"snapshot file is {size} bytes: a saved snapshot is whole {PageBytes}-byte pages followed by a {HashBytes}-byte SHA-256, so this one is truncated or has bytes added " +
                "(--skip-hash-check reads the image regardless)");
        }

        file.Position = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BufferBytes];
        for (var remaining = size - HashBytes; remaining > 0;)
        {
            var n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
            if (n == 0)
            {
                throw new InvalidDataException($"snapshot file ended at offset {size - HashBytes - remaining} while it was being hashed (it shrank)");
            }

            sha.AppendData(buffer, 0, n);
            remaining -= n;
        }

        var stored = new byte[HashBytes];
        file.ReadExactly(stored);
        var computed = sha.GetHashAndReset();
        if (!CryptographicOperations.FixedTimeEquals(stored, computed))
        {
            throw new InvalidDataException(
                $"snapshot file is corrupt: the SHA-256 it ends with ({Convert.ToHexStringLower(stored)}) is not the SHA-256 of its {size - HashBytes} bytes before it ({Convert.ToHexStringLower(computed)})");
        }

        return computed;
    }

    /// <summary>After the image come only zeros, fewer than a page, up to the hash.</summary>
    private static void CheckPadding(FileStream file, long imageLength, long hashOffset)
    {
        var padding = hashOffset - imageLength;
        if (padding is < 0 or >= PageBytes)
        {
            throw new InvalidDataException($"snapshot image ends at offset {imageLength} but its hash is at offset {hashOffset}: {padding} bytes between them (0 to {PageBytes - 1} expected)");
        }

        file.Position = imageLength;
        var bytes = new byte[padding];
        file.ReadExactly(bytes);
        if (bytes.AsSpan().ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException($"snapshot padding after the image (offset {imageLength} to {hashOffset}) is not zeros");
        }
    }
}

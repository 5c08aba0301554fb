namespace Conclave.Cluster;

/// <summary>
/// Writes the data directory of a member of a new cluster seeded from a backup (etcd's <c>snapshot restore</c>): a
/// snapshot holding the state, no log after it, the membership named by the initial cluster (never the old one) and
/// the cluster id derived from it and the token. A member started on it with the same name and initial cluster loads
/// the snapshot and forms the cluster with the members restored from the same image.
/// </summary>
public static class RestoredDataDirectory
{
    /// <summary>The term the seeded snapshot is recorded in: the new cluster's first election starts after it.</summary>
    public const long SeedTerm = 1;

    /// <summary>
    /// Where the system keyspace keeps the cluster's membership records (learners, members added but not joined). A
    /// restore leaves them out: they describe the old cluster, and the new one's members all come from the initial
    /// cluster as voters.
    /// </summary>
    public const string MembershipRecordsPrefix = MemberRecords.Root;

    /// <summary>
    /// Creates <see cref="RaftNodeOptions.DataDirectory"/> (it must not exist or be empty) for
    /// <see cref="RaftNodeOptions.MemberName"/> of <see cref="RaftNodeOptions.InitialCluster"/>, with
    /// <paramref name="writeImage"/>'s bytes as its snapshot at <paramref name="index"/>. On failure nothing is left
    /// behind (a directory this call created is removed, one that was empty is emptied again).
    /// </summary>
    /// <exception cref="InvalidOperationException">The data directory is not empty.</exception>
    /// <exception cref="ArgumentException">The initial cluster does not name this member, or names one peer URL twice.</exception>
    public static async Task CreateAsync(RaftNodeOptions options, long index, Action<Stream> writeImage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(writeImage);
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        var topology = ClusterTopology.Create(options);
        var directory = Path.GetFullPath(options.DataDirectory);
        var existed = Directory.Exists(directory);
        if (existed && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new InvalidOperationException($"data directory {directory} is not empty; a restore writes a new member's data directory and never replaces one");
        }

        if (File.Exists(directory))
        {
            throw new InvalidOperationException($"data directory {directory} is a file");
        }

        try
        {
            PrivateFiles.CreateDirectory(directory);
            var snapDirectory = Path.Combine(directory, "snap");
            PrivateFiles.CreateDirectory(snapDirectory);
            using (var snapshot = SnapshotFile.Create(snapDirectory, index, SeedTerm))
            {
                writeImage(snapshot);
                snapshot.Seal();
                snapshot.Commit();
            }

            using (var membership = new PeerConfigurationStorage(Path.Combine(directory, "members")))
            {
                await membership.PrepareAsync(topology, cancellationToken).ConfigureAwait(false);
            }

            ClusterIdentity.Save(directory, topology.ClusterId);
            DataDirectoryFormat.Record(directory);
            DurableFiles.FlushDirectory(directory);
        }
        catch
        {
            Remove(directory, existed);
            throw;
        }
    }

    /// <summary>The id of the cluster a member restored with <paramref name="options"/> belongs to.</summary>
    public static ulong ClusterId(RaftNodeOptions options) => ClusterTopology.Create(options).ClusterId;

    private static void Remove(string directory, bool keepDirectory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        if (!keepDirectory)
        {
            Directory.Delete(directory, recursive: true);
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }
    }
}

using System.Globalization;

namespace Conclave.Cluster;

/// <summary>
/// The cluster id, kept in the data directory (<c>cluster-id</c>). A member that formed the cluster derives it from
/// the initial configuration; a member that joined later takes it from the leader (its own initial configuration
/// lists itself, so a derived id would differ).
/// </summary>
internal static class ClusterIdentity
{
    private const string FileName = "cluster-id";

    /// <summary>The persisted id; when none, the derived one for a new cluster (saved), or null for a joining member.</summary>
    public static ulong? Load(string dataDirectory, ClusterTopology topology, bool joinExisting)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path) && ulong.TryParse(File.ReadAllText(path).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var id) && id != 0)
        {
            return id;
        }

        if (joinExisting)
        {
            return null;
        }

        Save(dataDirectory, topology.ClusterId);
        return topology.ClusterId;
    }

    public static void Save(string dataDirectory, ulong id)
    {
        var path = Path.Combine(dataDirectory, FileName);
        var temporary = path + ".tmp";
        PrivateFiles.WriteAllText(temporary, id.ToString("x16", CultureInfo.InvariantCulture) + "\n");
        File.Move(temporary, path, overwrite: true);
    }
}

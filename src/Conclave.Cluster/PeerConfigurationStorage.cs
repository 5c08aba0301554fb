using System.Net;
using DotNext.Buffers;
using DotNext.Net;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Conclave.Cluster;

/// <summary>
/// The Raft membership (peer endpoints) persisted in the data directory, so a restarted member knows its
/// peers and later membership changes survive restarts. Seeded from the initial cluster on first start.
/// </summary>
internal sealed class PeerConfigurationStorage(string fileName) : PersistentClusterConfigurationStorage<EndPoint>(fileName)
{
    private readonly string fileName = fileName;

    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer) =>
        EndPointFormatter.WriteEndPoint(ref writer, address);

    protected override EndPoint Decode(ref SequenceReader reader) => EndPointFormatter.ReadEndPoint(ref reader);

    /// <summary>
    /// Writes the initial membership unless one is persisted, and checks that this member belongs to it.
    /// </summary>
    /// <returns>The endpoint this member had before, when a one-member cluster moved to a new peer URL.</returns>
    /// <exception cref="InvalidOperationException">This member's peer URL is not in the persisted membership.</exception>
    public async ValueTask<EndPoint?> PrepareAsync(ClusterTopology topology, CancellationToken cancellationToken)
    {
        var movedFrom = await SeedOrCheckAsync(topology, cancellationToken).ConfigureAwait(false);
        MakePrivate();
        return movedFrom;
    }

    /// <summary>
    /// DotNext writes the file (a new one through a temporary file on every change) with the process's default mode
    /// and offers no way to choose it: after each save this member asks for, the file is made 0600 again.
    /// </summary>
    public void MakePrivate() => PrivateFiles.Restrict(fileName);

    private async ValueTask<EndPoint?> SeedOrCheckAsync(ClusterTopology topology, CancellationToken cancellationToken)
    {
        IClusterConfigurationStorage<EndPoint> storage = this;
        var current = await storage.LoadConfigurationAsync(cancellationToken).ConfigureAwait(false);
        if (current.Members.Count == 0)
        {
            var seeded = current;
            foreach (var member in topology.Members)
            {
                seeded = seeded.Add(member.EndPoint);
            }

            await storage.SaveConfigurationAsync(seeded, 0, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var local = topology.Local.EndPoint;
        if (current.Members.Contains(local))
        {
            return null;
        }

        if (current.Members.Count == 1 && topology.Members.Count == 1)
        {
            // A one-member cluster whose peer URL changed (e.g. another port): it is still the only member, and
            // Raft identifies members by endpoint, so move the membership to the new one. The persisted version
            // is kept (it is the log index of the last configuration entry), hence the rewrite from scratch.
            var previous = current.Members.Single();
            var (_, version) = await ((IClusterConfigurationStorage)this).LoadConfigurationAsync(cancellationToken).ConfigureAwait(false);
            File.Delete(fileName);
            await storage.SaveConfigurationAsync(current.Remove(previous).Add(local), version, cancellationToken).ConfigureAwait(false);
            return previous;
        }

        throw new InvalidOperationException(
            $"This member's peer URL {topology.Local.PeerUrl} is not in the membership persisted in {fileName} " +
            $"({string.Join(", ", current.Members)}). Peer URLs of a multi-member cluster cannot change across restarts yet.");
    }
}

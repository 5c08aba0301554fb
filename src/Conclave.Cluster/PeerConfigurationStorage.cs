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
    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer) =>
        EndPointFormatter.WriteEndPoint(ref writer, address);

    protected override EndPoint Decode(ref SequenceReader reader) => EndPointFormatter.ReadEndPoint(ref reader);

    /// <summary>Writes the initial membership unless one is already persisted.</summary>
    public async ValueTask SeedAsync(IEnumerable<EndPoint> members, CancellationToken cancellationToken)
    {
        IClusterConfigurationStorage<EndPoint> storage = this;
        var current = await storage.LoadConfigurationAsync(cancellationToken).ConfigureAwait(false);
        if (current.Members.Count > 0)
        {
            return;
        }

        var seeded = current;
        foreach (var member in members)
        {
            seeded = seeded.Add(member);
        }

        await storage.SaveConfigurationAsync(seeded, 0, cancellationToken).ConfigureAwait(false);
    }
}

using System.Runtime.InteropServices;
using Conclave.Server.Http2;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// Encodes each field for Kestrel as the decoder hands it over, with a valid :authority, every field a literal
/// without indexing (so Kestrel's dynamic table stays empty and never has to agree with the client's). The buffer
/// is reused from block to block; the decoder's limits bound how large it gets.
/// </summary>
internal sealed class RepairingEncoder : IHeaderSink
{
    private readonly List<byte> block = new(256);

    /// <summary>The block encoded so far.</summary>
    public ReadOnlySpan<byte> Block => CollectionsMarshal.AsSpan(block);

    public void Reset() => block.Clear();

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.SequenceEqual(AuthorityRewriter.AuthorityName) && !AuthorityRewriter.IsValid(value))
        {
            if (AuthorityRewriter.Repair(value) is not { } repaired)
            {
                return; // nothing host-like inside: dropped, gRPC does not route on it
            }

            value = repaired;
        }

        HpackEncoder.AppendLiteral(block, 0, name, value);
    }
}

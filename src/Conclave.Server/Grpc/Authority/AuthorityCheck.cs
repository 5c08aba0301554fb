using Conclave.Server.Http2;

namespace Conclave.Server.Grpc.Authority;

/// <summary>Notes, while a header block is decoded, whether its :authority is one Kestrel would refuse; copies nothing.</summary>
internal sealed class AuthorityCheck : IHeaderSink
{
    public bool Invalid { get; private set; }

    public void Reset() => Invalid = false;

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (!Invalid && name.SequenceEqual(AuthorityRewriter.AuthorityName) && !AuthorityRewriter.IsValid(value))
        {
            Invalid = true;
        }
    }
}

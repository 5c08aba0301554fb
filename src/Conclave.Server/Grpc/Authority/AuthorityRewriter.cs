using System.Buffers;
using Conclave.Server.Http2;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// The :authority rules and the HTTP/2 framing the rewrite needs. Kestrel resets any stream whose :authority is
/// not a valid host[:port] (PROTOCOL_ERROR), while etcd accepts what etcd's own clients send: etcdctl 3.4 dials
/// "http://127.0.0.1:2379" per endpoint for <c>endpoint status</c>, <c>hashkv</c> and <c>defrag</c> and sends that
/// whole URL as :authority; clientv3 3.5.0 sent "#initially=[...]". We repair such a value (strip the scheme and
/// path) or drop it; gRPC does not route on it. Framing and HPACK come from <c>Conclave.Server.Http2</c>.
/// </summary>
internal static class AuthorityRewriter
{
    /// <summary>The field name the rules are about.</summary>
    public static ReadOnlySpan<byte> AuthorityName => ":authority"u8;

    /// <summary>Whether Kestrel accepts <paramref name="authority"/> as a host: reg-name or IP literal, optional port.</summary>
    public static bool IsValid(ReadOnlySpan<byte> authority)
    {
        if (authority.IsEmpty)
        {
            return true;
        }

        var host = authority;
        var port = ReadOnlySpan<byte>.Empty;
        if (authority[0] == (byte)'[')
        {
            var close = authority.IndexOf((byte)']');
            if (close < 0)
            {
                return false;
            }

            host = authority[1..close];
            var rest = authority[(close + 1)..];
            if (!rest.IsEmpty)
            {
                if (rest[0] != (byte)':')
                {
                    return false;
                }

                port = rest[1..];
            }

            foreach (var c in host)
            {
                if (!(IsHex(c) || c == (byte)':' || c == (byte)'.'))
                {
                    return false;
                }
            }
        }
        else
        {
            var colon = authority.LastIndexOf((byte)':');
            if (colon >= 0)
            {
                host = authority[..colon];
                port = authority[(colon + 1)..];
                if (port.IsEmpty || host.IsEmpty)
                {
                    return false; // "host:" or ":2379" (old grpc-go sent the latter for a port-only target)
                }
            }

            foreach (var c in host)
            {
                if (!IsHostChar(c))
                {
                    return false;
                }
            }
        }

        foreach (var c in port)
        {
            if (c is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The host[:port] inside a URL-like authority, or null when none can be found.</summary>
    public static byte[]? Repair(ReadOnlySpan<byte> authority)
    {
        var scheme = authority.IndexOf("://"u8);
        if (scheme < 0)
        {
            return null;
        }

        var rest = authority[(scheme + 3)..];
        var end = rest.IndexOfAny("/?#"u8);
        var candidate = end < 0 ? rest : rest[..end];
        return !candidate.IsEmpty && IsValid(candidate) ? candidate.ToArray() : null;
    }

    /// <summary>Writes a header block as one HEADERS frame and as many CONTINUATION frames as the frame size needs.</summary>
    public static void WriteHeaderFrames(IBufferWriter<byte> output, int streamId, bool endStream, ReadOnlySpan<byte> priority, ReadOnlySpan<byte> block, int maxFrameSize)
    {
        var first = true;
        do
        {
            var room = maxFrameSize - (first ? priority.Length : 0);
            var chunk = block[..Math.Min(room, block.Length)];
            block = block[chunk.Length..];
            byte flags = 0;
            if (first && endStream)
            {
                flags |= FrameFlags.EndStream;
            }

            if (first && !priority.IsEmpty)
            {
                flags |= FrameFlags.Priority;
            }

            if (block.IsEmpty)
            {
                flags |= FrameFlags.EndHeaders;
            }

            var payload = (first ? priority.Length : 0) + chunk.Length;
            var span = output.GetSpan(FrameHeader.Size + payload);
            FrameHeader.Write(span, payload, first ? FrameType.Headers : FrameType.Continuation, flags, streamId);
            var at = FrameHeader.Size;
            if (first)
            {
                priority.CopyTo(span[at..]);
                at += priority.Length;
            }

            chunk.CopyTo(span[at..]);
            output.Advance(FrameHeader.Size + payload);
            first = false;
        }
        while (!block.IsEmpty);
    }

    private static bool IsHex(byte c) => c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static bool IsHostChar(byte c) =>
        c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
        || c is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~' or (byte)'!' or (byte)'$' or (byte)'&' or (byte)'\''
            or (byte)'(' or (byte)')' or (byte)'*' or (byte)'+' or (byte)',' or (byte)';' or (byte)'=' or (byte)'%';
}

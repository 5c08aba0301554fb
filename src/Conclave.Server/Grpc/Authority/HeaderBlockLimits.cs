using Conclave.Server.Http2;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// The bounds the :authority pre-parser works within, taken from Kestrel's own limits so that the two agree: a
/// header block the pre-parser stops on is one Kestrel would refuse too (or, before the connection is decided, one
/// it hands to Kestrel unread, to be refused or served as Kestrel sees fit).
/// </summary>
/// <param name="HeaderTableSize">SETTINGS_HEADER_TABLE_SIZE Kestrel advertises: the dynamic table's bound.</param>
/// <param name="MaxFrameSize">SETTINGS_MAX_FRAME_SIZE Kestrel advertises.</param>
/// <param name="Hpack">What one block may decode to.</param>
/// <param name="FirstBlockBytes">Most bytes of the first header block's frames inspected for a URL :authority.</param>
/// <param name="RewrittenBlockBytes">Most bytes of one header block's frames on a connection being repaired.</param>
/// <param name="HeaderBlockTimeout">Time a started header block has to finish (Kestrel's RequestHeadersTimeout).</param>
/// <param name="TimeProvider">The clock that timeout is measured on.</param>
internal sealed record HeaderBlockLimits(
    int HeaderTableSize,
    int MaxFrameSize,
    HpackLimits Hpack,
    int FirstBlockBytes,
    int RewrittenBlockBytes,
    TimeSpan HeaderBlockTimeout,
    TimeProvider TimeProvider)
{
    /// <summary>
    /// The first header block of an etcd client is a few hundred bytes; a larger one is handed to Kestrel unread (not
    /// repaired), so a peer cannot make every new connection hold more than this before it is decided.
    /// </summary>
    public const int DefaultFirstBlockBytes = 16 * 1024;

    /// <summary>Pseudo-header fields a request may carry besides its MaxRequestHeaderCount headers.</summary>
    private const int PseudoHeaderFields = 5;

    /// <summary>
    /// Bytes a literal field takes beyond its name and value: the type and index byte and two length prefixes
    /// (three bytes each up to 2 MiB).
    /// </summary>
    private const int LiteralOverhead = 8;

    /// <summary>Frame headers, padding and table size updates of a block at Kestrel's largest.</summary>
    private const int FramingAllowance = 8 * 1024;

    /// <summary>
    /// Kestrel's limits as its HTTP/2 connection applies them while decoding: a connection error once a block's
    /// names and values pass twice MaxRequestHeadersTotalSize or its fields twice MaxRequestHeaderCount (between
    /// one and two times it answers 431 on the stream instead), a COMPRESSION_ERROR for a string longer than
    /// Http2.MaxRequestHeaderFieldSize.
    /// </summary>
    public static HeaderBlockLimits FromKestrel(KestrelServerLimits limits, TimeProvider timeProvider)
    {
        var hpack = new HpackLimits(
            MaxStringLength: limits.Http2.MaxRequestHeaderFieldSize,
            MaxHeaderListSize: 2 * limits.MaxRequestHeadersTotalSize,
            MaxFieldCount: (2 * limits.MaxRequestHeaderCount) + PseudoHeaderFields);
        return new HeaderBlockLimits(
            limits.Http2.HeaderTableSize,
            limits.Http2.MaxFrameSize,
            hpack,
            DefaultFirstBlockBytes,
            hpack.MaxHeaderListSize + (hpack.MaxFieldCount * LiteralOverhead) + FramingAllowance,
            limits.RequestHeadersTimeout,
            timeProvider);
    }
}

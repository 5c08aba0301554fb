using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.Client.Internal;

/// <summary>Builds the wire requests from the public option records; shared by direct calls and transaction operations.</summary>
internal static class Requests
{
    private static readonly GetOptions DefaultGet = new();
    private static readonly PutOptions DefaultPut = new();
    private static readonly DeleteOptions DefaultDelete = new();

    public static RangeRequest Range(ByteString key, GetOptions? options)
    {
        options ??= DefaultGet;
        if (options.Revision < 0 || options.Limit < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "GetOptions.Revision and GetOptions.Limit must not be negative.");
        }

        var (start, end) = KeyBytes.Range(KeyBytes.Checked(key), options.Prefix, options.FromKey, options.RangeEnd);
        return new RangeRequest
        {
            Key = start,
            RangeEnd = end,
            Revision = options.Revision,
            Limit = options.Limit,
            SortOrder = (RangeRequest.Types.SortOrder)options.SortOrder,
            SortTarget = (RangeRequest.Types.SortTarget)options.SortTarget,
            KeysOnly = options.KeysOnly,
            CountOnly = options.CountOnly,
            Serializable = options.Serializable,
        };
    }

    public static PutRequest Put(ByteString key, ByteString value, PutOptions? options)
    {
        options ??= DefaultPut;
        return new PutRequest
        {
            Key = KeyBytes.Checked(key),
            Value = KeyBytes.Checked(value),
            Lease = options.Lease,
            PrevKv = options.PrevKv,
            IgnoreValue = options.IgnoreValue,
            IgnoreLease = options.IgnoreLease,
        };
    }

    public static DeleteRangeRequest Delete(ByteString key, DeleteOptions? options)
    {
        options ??= DefaultDelete;
        var (start, end) = KeyBytes.Range(KeyBytes.Checked(key), options.Prefix, options.FromKey, options.RangeEnd);
        return new DeleteRangeRequest { Key = start, RangeEnd = end, PrevKv = options.PrevKv };
    }

    public static WatchCreateRequest WatchCreate(ByteString key, ByteString rangeEnd, WatchOptions options, long startRevision)
    {
        var request = new WatchCreateRequest
        {
            Key = key,
            RangeEnd = rangeEnd,
            StartRevision = startRevision,
            PrevKv = options.PrevKv,
            ProgressNotify = options.ProgressNotify,
        };
        if (options.NoPut)
        {
            request.Filters.Add(WatchCreateRequest.Types.FilterType.Noput);
        }

        if (options.NoDelete)
        {
            request.Filters.Add(WatchCreateRequest.Types.FilterType.Nodelete);
        }

        return request;
    }
}

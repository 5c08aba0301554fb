using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.Server.Node;
using Conclave.Storage.Mvcc;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace Conclave.Server.Http;

/// <summary>
/// The raw (user) keyspace for the console: a page of keys under a prefix, one key's retained revisions, and a live
/// watch of a prefix as server-sent events (read from the store's watch history, like the Watch service).
/// </summary>
internal static class KeysHttpApi
{
    public const int MaxPage = 1000;

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/keys", ListAsync).Produces<KeyPage>();
        api.MapGet("/keys/history", HistoryAsync).Produces<KeyHistoryView>().ProducesProblems(StatusCodes.Status404NotFound);
        api.MapGet("/keys/watch", Watch).Produces<KeyWatchEvent>(contentType: "text/event-stream").ProducesProblems(StatusCodes.Status410Gone);
    }

    private static async Task<IResult> ListAsync(string? prefix, string? after, int? limit, ConclaveNode node, HttpContext http, CancellationToken cancellationToken)
    {
        prefix ??= "";
        if (!string.IsNullOrEmpty(after) && !after.StartsWith(prefix, StringComparison.Ordinal))
        {
            return Problems.Of(StatusCodes.Status400BadRequest, "invalid argument", "InvalidArgument", $"'after' ({after}) does not start with the prefix '{prefix}'", http);
        }

        var take = Math.Clamp(limit ?? 100, 1, MaxPage);
        var start = string.IsNullOrEmpty(after) ? ByteString.CopyFromUtf8(prefix) : ByteString.CopyFromUtf8(after + "\0");
        var request = new RangeRequest
        {
            // An empty key with an open range end reads from the first key, as etcd's "--from-key ''" does.
            Key = start.IsEmpty ? ByteString.CopyFrom(0) : start,
            RangeEnd = KeyOrder.PrefixEnd(ByteString.CopyFromUtf8(prefix)),
            Limit = take,
        };
        await node.Consensus.ReadBarrierAsync(cancellationToken);
        node.Store.Auth.CheckRange(Security.Auth.HttpSignIn.UserOf(http), request.Key, request.RangeEnd);
        var response = node.Store.Range(request);
        return Results.Ok(new KeyPage(prefix, response.Header.Revision, response.Kvs.Select(KeyView.Of).ToList(), response.More));
    }

    private static async Task<IResult> HistoryAsync(string key, ConclaveNode node, HttpContext http, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(key))
        {
            return Problems.Of(StatusCodes.Status400BadRequest, "invalid argument", "InvalidArgument", "'key' is required", http);
        }

        await node.Consensus.ReadBarrierAsync(cancellationToken);
        var bytes = ByteString.CopyFromUtf8(key);
        node.Store.Auth.CheckRange(Security.Auth.HttpSignIn.UserOf(http), bytes, ByteString.Empty);
        var (versions, revision, compacted) = node.Store.Read(k => (k.VersionsOf(bytes), k.Revision, k.CompactRevision));
        if (versions.Count == 0)
        {
            return Problems.Of(StatusCodes.Status404NotFound, "not found", "NotFound", $"key '{key}' has no retained revisions (never written, or compacted away)", http);
        }

        var revisions = versions.Reverse().Select(v => v.ToKeyValue(bytes) is { } kv
            ? new KeyRevision(v.Main, "put", KeyView.Text(kv.Value, out var binary), binary, kv.CreateRevision, kv.Version, KeyView.LeaseId(kv.Lease))
            : new KeyRevision(v.Main, "delete", null, false, 0, 0, null)).ToList();
        return Results.Ok(new KeyHistoryView(key, revision, compacted, revisions));
    }

    private static IResult Watch(string? prefix, long? fromRevision, ConclaveNode node, IHostApplicationLifetime lifetime, HttpContext http)
    {
        var watched = ByteString.CopyFromUtf8(prefix ?? "");
        node.Store.Auth.CheckRange(Security.Auth.HttpSignIn.UserOf(http), watched.IsEmpty ? ByteString.CopyFrom(0) : watched, KeyOrder.PrefixEnd(watched));
        var (current, compacted) = node.Store.Revisions;
        var from = fromRevision is > 0 ? fromRevision.Value : current + 1;
        if (from <= compacted)
        {
            return Problems.Of(StatusCodes.Status410Gone, "compacted", "Compacted", $"revision {from} was compacted (compact revision {compacted}); start from a newer one", http);
        }

        var token = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        http.Response.RegisterForDispose(token);
        return TypedResults.ServerSentEvents(SseStreams.UntilCancelledAsync(StreamAsync(ByteString.CopyFromUtf8(prefix ?? ""), from, node, token.Token), token.Token));
    }

    private static async IAsyncEnumerable<SseItem<KeyWatchEvent>> StreamAsync(ByteString prefix, long from, ConclaveNode node, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new SseItem<KeyWatchEvent>(new KeyWatchEvent("ready", from - 1, null), "ready");
        var failure = (string?)null;
        var store = node.Store;
        await using var changes = PrefixWatch.ChangesAsync(store.Events, store.Signal, () => store.CompactRevision, prefix, from, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await changes.MoveNextAsync())
                {
                    break;
                }
            }
            catch (KeyspaceCompactedException e)
            {
                failure = $"the watch fell behind compaction (compact revision {e.CompactRevision}); reload to resume";
                break;
            }

            foreach (var e in changes.Current.Events)
            {
                var type = e.Type == Api.Mvcc.Event.Types.EventType.Delete ? "delete" : "put";
                yield return new SseItem<KeyWatchEvent>(new KeyWatchEvent(type, e.Kv.ModRevision, KeyView.Of(e.Kv)), type) { EventId = e.Kv.ModRevision.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            }
        }

        if (failure is not null)
        {
            yield return new SseItem<KeyWatchEvent>(new KeyWatchEvent("failed", 0, null, failure), "failed");
        }
    }
}

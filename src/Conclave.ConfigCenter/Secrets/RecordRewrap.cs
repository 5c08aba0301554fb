using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Secrets;

/// <summary>
/// The loop of <c>conclave config keys rotate</c> over one kind of record holding values wrapped under a master key
/// (namespace data keys, webhook signing secrets): each record not yet under the current key is re-wrapped in its own
/// transaction guarded by its revision, with an audit entry of its app; a record changed meanwhile is read again (at
/// most 8 times), a deleted one is skipped, one that cannot be opened is reported.
/// </summary>
internal static class RecordRewrap
{
    private const int MaxAttempts = 8;

    /// <param name="isCurrent">True when the record is under the current key already (counted), null when it holds nothing wrapped (skipped), false when it needs re-wrapping.</param>
    /// <param name="rewrap">The record with its wrapped values under the current key.</param>
    /// <param name="target">The record's name in the audit and in failures, and its app.</param>
    /// <param name="detail">The audit entry's detail.</param>
    public static async ValueTask<(int Rewrapped, int AlreadyCurrent, List<string> Failed)> AllAsync<T>(
        ConfigStore store, ByteString prefix, Func<T, bool?> isCurrent, Func<T, ValueTask<T>> rewrap, Func<T, (string Name, string App)> target,
        string detail, ChangeContext who, TimeProvider clock, CancellationToken cancellationToken)
        where T : class
    {
        int rewrapped = 0, already = 0;
        var failed = new List<string>();
        foreach (var (listed, kv) in await store.ListAsync<T>(prefix, cancellationToken))
        {
            var (record, modRevision) = (listed, kv.ModRevision);
            for (var attempt = 0; ; attempt++)
            {
                var state = isCurrent(record);
                if (state != false)
                {
                    already += state == true ? 1 : 0;
                    break;
                }

                var (name, app) = target(record);
                try
                {
                    var next = await rewrap(record);
                    var (ok, _) = await store.CommitAsync(
                        [ConfigStore.ModifiedAt(kv.Key, modRevision)],
                        [ConfigStore.Put(kv.Key, next), ConfigStore.Audit(app, ConfigCenterService.Audit(who, clock.GetUtcNow(), "keys.rotate", name, detail))],
                        cancellationToken);
                    if (ok)
                    {
                        rewrapped++;
                        break;
                    }
                }
                catch (Exception e) when (e is ConfigCenterException or FormatException)
                {
                    failed.Add($"{name}: {e.Message}");
                    break;
                }

                // Changed meanwhile (another rotation, or the record deleted): read it again.
                var (again, revision, _) = await store.GetAsync<T>(kv.Key, cancellationToken);
                if (again is null || attempt >= MaxAttempts)
                {
                    if (again is not null)
                    {
                        failed.Add($"{name}: changed during every attempt; run the rotation again");
                    }

                    break;
                }

                (record, modRevision) = (again, revision);
            }
        }

        return (rewrapped, already, failed);
    }
}

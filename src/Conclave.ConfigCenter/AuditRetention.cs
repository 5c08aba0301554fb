using System.Globalization;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// Drops audit entries older than the center's retention (<see cref="ConfigSettings.AuditRetentionDays"/>; 0 keeps them
/// all). Audit keys sort by app, then time (<c>audit/{app}/{utcTicks:D19}-...</c>), so each app's old entries are one
/// range delete; one transaction covers every app. Entries of deleted apps age out the same way.
/// </summary>
public sealed class AuditRetention(IKeyValuePort port, TimeProvider? clock = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    /// <summary>Deletes what the retention no longer keeps; returns how many entries went (0 with no retention set).</summary>
    public async ValueTask<long> PruneAsync(CancellationToken cancellationToken = default)
    {
        var settings = (await store.GetAsync<ConfigSettings>(ConfigKeys.Settings(), cancellationToken)).Value ?? new ConfigSettings();
        if (settings.AuditRetentionDays <= 0)
        {
            return 0;
        }

        var cutoff = clock.GetUtcNow().AddDays(-settings.AuditRetentionDays).UtcTicks.ToString("D19", CultureInfo.InvariantCulture);
        var all = ConfigKeys.AllAudits();
        var root = all.ToStringUtf8();
        var keys = await port.RangeAsync(new RangeRequest { Key = all, RangeEnd = ConfigKeys.PrefixEnd(all), KeysOnly = true }, cancellationToken);
        var apps = keys.Kvs.Select(kv => kv.Key.ToStringUtf8()[root.Length..].Split('/')[0]).Distinct(StringComparer.Ordinal).ToList();
        if (apps.Count == 0)
        {
            return 0;
        }

        var txn = new TxnRequest();
        foreach (var app in apps)
        {
            var prefix = ConfigKeys.Audits(app);
            txn.Success.Add(new RequestOp
            {
                RequestDeleteRange = new DeleteRangeRequest { Key = prefix, RangeEnd = Google.Protobuf.ByteString.CopyFromUtf8(prefix.ToStringUtf8() + cutoff) },
            });
        }

        var response = await port.TxnAsync(txn, cancellationToken);
        return response.Responses.Sum(r => r.ResponseDeleteRange?.Deleted ?? 0);
    }
}

using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>Typed reads of center records and guarded writes, over the port.</summary>
public sealed class ConfigStore(IKeyValuePort port)
{
    public IKeyValuePort Port { get; } = port;

    public async ValueTask<(T? Value, long ModRevision, long StoreRevision)> GetAsync<T>(ByteString key, CancellationToken cancellationToken)
        where T : class
    {
        var response = await Port.RangeAsync(new RangeRequest { Key = key }, cancellationToken);
        var kv = response.Kvs.FirstOrDefault();
        return (kv is null ? null : ConfigJson.Decode<T>(kv.Value), kv?.ModRevision ?? 0, response.Header?.Revision ?? 0);
    }

    public async ValueTask<List<(T Value, KeyValue Kv)>> ListAsync<T>(ByteString prefix, CancellationToken cancellationToken, long limit = 0, bool descending = false)
    {
        var request = new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), Limit = limit };
        if (descending)
        {
            request.SortOrder = RangeRequest.Types.SortOrder.Descend;
            request.SortTarget = RangeRequest.Types.SortTarget.Key;
        }

        var response = await Port.RangeAsync(request, cancellationToken);
        return response.Kvs.Select(kv => (ConfigJson.Decode<T>(kv.Value), kv)).ToList();
    }

    public async ValueTask<NamespaceRecord> NamespaceAsync(string app, string env, string ns, CancellationToken cancellationToken)
    {
        var response = await Port.RangeAsync(new RangeRequest { Key = ConfigKeys.Namespace(app, env, ns) }, cancellationToken);
        if (response.Kvs.FirstOrDefault() is not { } kv)
        {
            await ThrowMissingAsync(app, env, ns, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        return NamespaceOf(kv);
    }

    /// <summary>Decodes a namespace record with the revisions it was created and last written at.</summary>
    public static NamespaceRecord NamespaceOf(KeyValue kv) =>
        ConfigJson.Decode<NamespaceRecord>(kv.Value) with { Revision = kv.ModRevision, CreateRevision = kv.CreateRevision };

    /// <summary>Throws NotFound naming the first missing level of app / environment / namespace.</summary>
    public async ValueTask ThrowMissingAsync(string app, string? env, string? ns, CancellationToken cancellationToken)
    {
        if ((await GetAsync<AppRecord>(ConfigKeys.App(app), cancellationToken)).Value is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{app}' does not exist");
        }

        if (env is not null && (await GetAsync<EnvironmentRecord>(ConfigKeys.Environment(app, env), cancellationToken)).Value is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"environment '{env}' of app '{app}' does not exist");
        }

        if (ns is not null)
        {
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"namespace '{ns}' in {app}/{env} does not exist");
        }
    }

    public async ValueTask<ReleaseRecord?> ReleaseAsync(string app, string env, string ns, long id, CancellationToken cancellationToken) =>
        id <= 0 ? null : (await GetAsync<ReleaseRecord>(ConfigKeys.Release(app, env, ns, id), cancellationToken)).Value;

    /// <summary>Runs <paramref name="writes"/> if every compare holds; returns false (nothing written) otherwise.</summary>
    public async ValueTask<(bool Succeeded, long Revision)> CommitAsync(IEnumerable<Compare> compares, IEnumerable<RequestOp> writes, CancellationToken cancellationToken)
    {
        var txn = new TxnRequest();
        txn.Compare.AddRange(compares);
        txn.Success.AddRange(writes);
        var response = await Port.TxnAsync(txn, cancellationToken);
        return (response.Succeeded, response.Header?.Revision ?? 0);
    }

    public static RequestOp Put<T>(ByteString key, T value, long lease = 0) =>
        new() { RequestPut = new PutRequest { Key = key, Value = ConfigJson.Encode(value), Lease = lease } };

    public static Compare Absent(ByteString key) =>
        new() { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 };

    public static Compare Present(ByteString key) =>
        new() { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Greater, CreateRevision = 0 };

    /// <summary>Holds when no key starts with <paramref name="prefix"/>.</summary>
    public static Compare NoneUnder(ByteString prefix) =>
        new() { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 };

    public static RequestOp Delete(ByteString key) => new() { RequestDeleteRange = new DeleteRangeRequest { Key = key } };

    public static RequestOp DeleteUnder(ByteString prefix) =>
        new() { RequestDeleteRange = new DeleteRangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix) } };

    public async ValueTask<long> CountAsync(ByteString prefix, CancellationToken cancellationToken) =>
        (await Port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), CountOnly = true }, cancellationToken)).Count;

    public static Compare ModifiedAt(ByteString key, long revision) =>
        new() { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = revision };

    public static RequestOp Audit(string app, AuditEntry entry) =>
        Put(ConfigKeys.Audit(app, entry.At, Guid.NewGuid().ToString("N")[..8]), entry);
}

namespace Conclave.Server.Tests.Fixtures;

/// <summary>Small etcdctl steps the tests share.</summary>
internal static class Etcd
{
    /// <summary><c>etcdctl put KEY VALUE -w json</c>; returns the revision the put created.</summary>
    public static async Task<long> PutAsync(string endpoint, string key, string value)
    {
        var result = await Etcdctl.RunAsync(endpoint, "put", key, value, "-w", "json");
        return EtcdJson.HeaderRevision(EtcdJson.Parse(result));
    }

    /// <summary>The current store revision, from a range's header.</summary>
    public static async Task<long> RevisionAsync(string endpoint)
    {
        var result = await Etcdctl.RunAsync(endpoint, "get", "revision-probe", "-w", "json");
        return EtcdJson.HeaderRevision(EtcdJson.Parse(result));
    }
}

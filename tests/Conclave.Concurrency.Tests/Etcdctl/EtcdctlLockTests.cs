using System.Globalization;
using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Etcdctl;

/// <summary>
/// <c>etcdctl lock</c> (etcd's client-side mutex recipe over KV, watch and leases) with two contending
/// processes: the second holds the lock only once the first's key is gone, whether the first released it or
/// was SIGKILLed and its lease expired.
/// </summary>
public sealed class EtcdctlLockTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Second_contender_runs_its_command_only_after_the_first_releases()
    {
        var name = Names.Unique("ctl-lock");
        using var dir = TempDirectory.Create("ctl-lock-");
        var release = dir.Combine("release");
        await using var client = fixture.CreateClient();
        var start = (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true })).Revision + 1;
        var deletes = CollectDeletesAsync(client, name, start);

        await using var first = Testing.Etcdctl.Start(Endpoint, "lock", name, "--", "sh", "-c", $"echo first-holds; while [ ! -e '{release}' ]; do sleep 0.05; done");
        await first.WaitForLinesAsync(["first-holds"], Deadline);
        var firstKey = (await HolderAsync(client, name))!;
        await using var second = Testing.Etcdctl.Start(Endpoint, "lock", name, "--", "sh", "-c", "echo \"second-holds $ETCD_LOCK_REV\"");
        await WaitForQueueAsync(client, name, 2);
        Assert.DoesNotContain(second.Lines, l => l.StartsWith("second-holds", StringComparison.Ordinal));

        await File.WriteAllTextAsync(release, "go");
        Assert.Equal(0, await first.WaitForExitAsync(Deadline));
        var line = await second.WaitForLineAsync(l => l.StartsWith("second-holds ", StringComparison.Ordinal), Deadline, "second-holds");
        Assert.Equal(0, await second.WaitForExitAsync(Deadline));

        var acquiredAt = long.Parse(line["second-holds ".Length..], CultureInfo.InvariantCulture);
        var firstDeleted = await FirstDeleteOfAsync(deletes, firstKey.Key.ToStringUtf8());
        Assert.True(acquiredAt >= firstDeleted, $"the second acquired at revision {acquiredAt}, before the first's key was deleted at {firstDeleted}");
        await WaitForQueueAsync(client, name, 0);
    }

    [Fact]
    public async Task Second_contender_takes_over_when_the_SIGKILLed_holders_lease_expires()
    {
        var name = Names.Unique("ctl-kill");
        await using var client = fixture.CreateClient();
        var start = (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true })).Revision + 1;
        var deletes = CollectDeletesAsync(client, name, start);

        await using var first = Testing.Etcdctl.Start(Endpoint, "lock", "--ttl", "2", name);
        var firstKeyName = await first.WaitForLineAsync(l => l.StartsWith(name + "/", StringComparison.Ordinal), Deadline, "the holder key");
        await using var second = Testing.Etcdctl.Start(Endpoint, "lock", name, "--", "sh", "-c", "echo \"second-holds $ETCD_LOCK_REV\"");
        await WaitForQueueAsync(client, name, 2);
        var firstKey = (await client.GetAsync(firstKeyName)).First!;
        Assert.DoesNotContain(second.Lines, l => l.StartsWith("second-holds", StringComparison.Ordinal));

        // No unlock, no revoke: the holder just dies. Only its lease's expiry can free the lock.
        Signals.Send(first.Pid, Signals.SigKill);

        var line = await second.WaitForLineAsync(l => l.StartsWith("second-holds ", StringComparison.Ordinal), Deadline, "second-holds");
        var acquiredAt = long.Parse(line["second-holds ".Length..], CultureInfo.InvariantCulture);
        var firstDeleted = await FirstDeleteOfAsync(deletes, firstKeyName);
        Assert.True(acquiredAt >= firstDeleted, $"the second acquired at revision {acquiredAt}, before the first's key was deleted at {firstDeleted}");
        Assert.False((await client.LeaseTimeToLiveAsync(firstKey.Lease)).Exists);
        Assert.Equal(0, await second.WaitForExitAsync(Deadline));
    }

    private static async Task<KeyValueEntry?> HolderAsync(ConclaveClient client, string name) =>
        (await client.GetAsync(name + "/", new GetOptions { Prefix = true, SortTarget = SortTarget.CreateRevision, SortOrder = SortOrder.Ascend, Limit = 1 })).First;

    private static Task WaitForQueueAsync(ConclaveClient client, string name, int count) =>
        Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == count, Deadline, $"{count} key(s) in the queue of {name}");

    /// <summary>Every delete under the lock's prefix from <paramref name="start"/> on, in order.</summary>
    private static List<WatchEvent> CollectDeletesAsync(ConclaveClient client, string name, long start)
    {
        var deletes = new List<WatchEvent>();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in client.WatchAsync(name + "/", new WatchOptions { Prefix = true, StartRevision = start, NoPut = true }))
                {
                    lock (deletes)
                    {
                        deletes.Add(e);
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // The test's client is gone.
            }
        });
        return deletes;
    }

    private static async Task<long> FirstDeleteOfAsync(List<WatchEvent> deletes, string key)
    {
        long revision = 0;
        await Eventually.WaitAsync(
            () =>
            {
                lock (deletes)
                {
                    revision = deletes.FirstOrDefault(e => e.Entry.KeyString == key)?.Revision ?? 0;
                }

                return revision > 0;
            },
            Deadline,
            $"the delete of {key}");
        return revision;
    }
}

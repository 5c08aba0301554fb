using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Conclave.Cluster.Tests;

/// <summary>A data directory and a port for one member, and helpers to (re)start it.</summary>
internal sealed class TestMember : IAsyncDisposable
{
    private readonly List<RaftNode> started = [];

    public TestMember(Func<RaftNodeOptions, RaftNodeOptions>? configure = null)
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "conclave-cluster-tests", Guid.NewGuid().ToString("N"));
        var options = new RaftNodeOptions
        {
            MemberName = "m1",
            DataDirectory = DataDirectory,
            PeerEndpoint = new IPEndPoint(IPAddress.Loopback, FreePort()),
            ClientUrls = ["http://127.0.0.1:2379"],
        };
        Options = configure is null ? options : configure(options);
    }

    public string DataDirectory { get; }

    public RaftNodeOptions Options { get; }

    public async Task<RaftNode> StartAsync(IReplicatedStateMachine machine)
    {
        var node = await RaftNode.StartAsync(Options, machine, CancellationToken.None);
        started.Add(node);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in started)
        {
            await node.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>
    /// Members <c>m0</c> to <c>m{count-1}</c> of one new cluster on fresh loopback peer ports, not started yet, and
    /// their initial cluster (name to peer URL); <paramref name="configure"/> adds the settings every member shares.
    /// </summary>
    public static (List<TestMember> Members, IReadOnlyDictionary<string, string> InitialCluster) Cluster(int count, Func<RaftNodeOptions, RaftNodeOptions>? configure = null)
    {
        var ports = Enumerable.Range(0, count).Select(_ => FreePort()).ToArray();
        var initial = Enumerable.Range(0, count).ToDictionary(i => $"m{i}", i => $"http://127.0.0.1:{ports[i]}");
        var members = Enumerable.Range(0, count).Select(i => new TestMember(o =>
        {
            var member = o with { MemberName = $"m{i}", PeerEndpoint = new IPEndPoint(IPAddress.Loopback, ports[i]), InitialCluster = initial };
            return configure is null ? member : configure(member);
        })).ToList();
        return (members, initial);
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, int timeoutMs = 5000)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.ElapsedMilliseconds > timeoutMs)
            {
                Assert.Fail($"Timed out after {timeoutMs} ms waiting for {what}.");
            }

            await Task.Delay(10);
        }
    }
}

using Conclave.Server;
using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>
/// A real multi-member Conclave cluster inside the test process: every member is a full server (gRPC, HTTP,
/// Raft over TCP) on loopback ports chosen at start, bootstrapped with etcd's static <c>--initial-cluster</c>.
/// Members can be stopped and started again on the same data directory and ports.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly TempDirectory directory;
    private readonly ITestOutputHelper? output;
    private readonly Func<ServerOptions, ServerOptions>? configure;
    private ServerOptions[] options;
    private ConclaveServer?[] servers;
    private int disposed;

    private TestCluster(TempDirectory directory, ServerOptions[] options, ITestOutputHelper? output, Func<ServerOptions, ServerOptions>? configure)
    {
        this.directory = directory;
        this.options = options;
        this.output = output;
        this.configure = configure;
        servers = new ConclaveServer?[options.Length];
    }

    public int Count => options.Length;

    /// <summary>The running server of member <paramref name="index"/> (throws when it is stopped).</summary>
    public ConclaveServer this[int index] => servers[index] ?? throw new InvalidOperationException($"member {index} is stopped");

    /// <summary>gRPC URLs of every member, running or not, in member order.</summary>
    public IReadOnlyList<string> Endpoints => [.. options.Select(static o => o.ListenClientUrls[0])];

    /// <summary>HTTP URL of member <paramref name="index"/>.</summary>
    public string HttpUrl(int index) => options[index].ListenHttpUrls[0];

    public bool IsRunning(int index) => servers[index] is not null;

    /// <summary>
    /// Starts <paramref name="members"/> members and waits until they agree on a leader. The ports are chosen free but
    /// bound later (every member must know every peer URL first), so another test may take one in between: then the
    /// whole cluster starts again on fresh ports (at most three times).
    /// </summary>
    public static async Task<TestCluster> StartAsync(
        int members,
        ITestOutputHelper? output = null,
        Func<ServerOptions, ServerOptions>? configure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreshPortsAsync(members, output, configure, cancellationToken);
            }
            catch (Exception e) when (attempt < 3 && IsAddressInUse(e))
            {
                output?.WriteLine($"a port chosen for the cluster was taken before it was bound ({e.Message}); starting again on fresh ports");
            }
        }
    }

    private static bool IsAddressInUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }
                || e.GetType().Name == "AddressInUseException")
            {
                return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<TestCluster> StartOnFreshPortsAsync(
        int members, ITestOutputHelper? output, Func<ServerOptions, ServerOptions>? configure, CancellationToken cancellationToken)
    {
        var directory = TempDirectory.Create("conclave-cluster-");
        var ports = FreePorts.Take(members * 3);
        var names = Enumerable.Range(1, members).Select(static i => $"m{i}").ToArray();
        var initialCluster = string.Join(',', names.Select((n, i) => $"{n}=http://127.0.0.1:{ports[(i * 3) + 2]}"));
        var options = names.Select((n, i) => new ServerOptions
        {
            Name = n,
            DataDirectory = directory.Combine(n),
            ListenClientUrls = [$"http://127.0.0.1:{ports[i * 3]}"],
            ListenHttpUrls = [$"http://127.0.0.1:{ports[(i * 3) + 1]}"],
            ListenPeerUrl = $"http://127.0.0.1:{ports[(i * 3) + 2]}",
            InitialCluster = initialCluster,
        }).ToArray();
        var cluster = new TestCluster(directory, options, output, configure);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, members).Select(i => cluster.StartMemberAsync(i, cancellationToken)));
            await cluster.WaitForLeaderAsync(cancellationToken: cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A new member, not started yet: the next name, fresh ports, <c>--initial-cluster</c> of every member so far
    /// plus itself and <c>--initial-cluster-state existing</c>, as an operator starts a member after
    /// <c>etcdctl member add</c>. Start it with <see cref="StartMemberAsync"/>.
    /// </summary>
    /// <returns>Its index and peer URL.</returns>
    public (int Index, string PeerUrl) AddMemberSlot()
    {
        var index = options.Length;
        var ports = FreePorts.Take(3);
        var name = $"m{index + 1}";
        var peerUrl = $"http://127.0.0.1:{ports[2]}";
        var initialCluster = string.Join(',', options.Select(static o => $"{o.Name}={o.ListenPeerUrl}").Append($"{name}={peerUrl}"));
        var added = new ServerOptions
        {
            Name = name,
            DataDirectory = directory.Combine(name),
            ListenClientUrls = [$"http://127.0.0.1:{ports[0]}"],
            ListenHttpUrls = [$"http://127.0.0.1:{ports[1]}"],
            ListenPeerUrl = peerUrl,
            InitialCluster = initialCluster,
            InitialClusterState = "existing",
        };
        options = [.. options, added];
        servers = [.. servers, null];
        return (index, peerUrl);
    }

    /// <summary>
    /// Deletes stopped member <paramref name="index"/>'s data directory and marks it to join a running cluster
    /// (<c>--initial-cluster-state existing</c>) on its next start, as an operator re-adds a member whose disk was lost.
    /// </summary>
    public void WipeMember(int index)
    {
        if (servers[index] is not null)
        {
            throw new InvalidOperationException($"member {index} is running; stop it first");
        }

        if (Directory.Exists(options[index].DataDirectory))
        {
            Directory.Delete(options[index].DataDirectory, recursive: true);
        }

        options[index] = options[index] with { InitialClusterState = "existing" };
    }

    /// <summary>Starts (or restarts) member <paramref name="index"/> on its data directory and ports.</summary>
    public async Task StartMemberAsync(int index, CancellationToken cancellationToken = default)
    {
        if (servers[index] is not null)
        {
            throw new InvalidOperationException($"member {index} is already running");
        }

        var o = options[index];
        if (configure is not null)
        {
            o = configure(o) with
            {
                Name = o.Name,
                DataDirectory = o.DataDirectory,
                ListenClientUrls = o.ListenClientUrls,
                ListenHttpUrls = o.ListenHttpUrls,
                ListenPeerUrl = o.ListenPeerUrl,
                InitialCluster = o.InitialCluster,
                InitialClusterState = o.InitialClusterState,
            };
        }

        var name = o.Name;
        servers[index] = await ConclaveServer.StartAsync(o, logging => TestNode.ConfigureLogging(logging, output, $"[{name}] "), cancellationToken);
    }

    /// <summary>Stops member <paramref name="index"/> (gracefully; its data stays).</summary>
    public async Task StopMemberAsync(int index)
    {
        var server = Interlocked.Exchange(ref servers[index], null);
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>The index of the member every running member names as leader, once they agree.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var leader = -1;
        await Eventually.WaitAsync(
            _ =>
            {
                var running = Enumerable.Range(0, Count).Where(i => servers[i] is not null).ToArray();
                var statuses = running.Select(i => servers[i]!.Node.Consensus.Status).ToArray();
                var leaderId = statuses[0].LeaderId;
                var agreed = leaderId != 0 && statuses.All(s => s.LeaderId == leaderId);
                leader = agreed ? Array.FindIndex(running, i => servers[i]!.Node.Consensus.Status.MemberId == leaderId) : -1;
                leader = leader >= 0 ? running[leader] : -1;
                return Task.FromResult(leader >= 0);
            },
            timeout ?? Eventually.DefaultTimeout,
            "the running members agree on a running leader",
            cancellationToken);
        return leader;
    }

    /// <summary>Index of some running member that is not the leader.</summary>
    public async Task<int> FollowerAsync(CancellationToken cancellationToken = default)
    {
        var leader = await WaitForLeaderAsync(cancellationToken: cancellationToken);
        return Enumerable.Range(0, Count).First(i => i != leader && servers[i] is not null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, Count).Select(StopMemberAsync));
        }
        finally
        {
            directory.Dispose();
        }
    }
}

using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>
/// A real multi-member cluster of <c>conclave serve</c> processes on loopback, bootstrapped with etcd's static
/// <c>--initial-cluster</c>. Members can be killed (SIGKILL), paused (SIGSTOP) and restarted on their data
/// directories; disposing kills every process and deletes the data. With certificates, every listener and the
/// traffic between members run over TLS with client certificates required (<see cref="NodeTls"/>): connect through
/// <see cref="Connect"/>.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly TempDirectory directory;
    private readonly IReadOnlyList<string> extraArguments;
    private readonly TestCertificates? certificates;
    private readonly NodeTls? clientTls;
    private NodeProcess[] members;
    private int disposed;

    private ProcessCluster(TempDirectory directory, NodeProcess[] members, IReadOnlyList<string> extraArguments, TestCertificates? certificates, NodeTls? clientTls)
    {
        this.directory = directory;
        this.members = members;
        this.extraArguments = extraArguments;
        this.certificates = certificates;
        this.clientTls = clientTls;
    }

    public int Count => members.Length;

    public NodeProcess this[int index] => members[index];

    /// <summary>gRPC URLs of every member in member order.</summary>
    public IReadOnlyList<string> Endpoints => [.. members.Select(static m => m.Endpoint)];

    /// <summary>
    /// Starts <paramref name="count"/> members on loopback and waits until every one is healthy (knows a leader); over
    /// TLS everywhere with certificates from <paramref name="tls"/>.
    /// </summary>
    public static Task<ProcessCluster> StartAsync(
        int count, ITestOutputHelper? output = null, IReadOnlyList<string>? extraArguments = null, TestCertificates? tls = null, CancellationToken cancellationToken = default)
    {
        var ports = FreePorts.Take(count * 3);
        return StartAsync(count, i => new MemberPlacement("127.0.0.1", ports[(i * 3)..((i * 3) + 3)], []), output, extraArguments, tls, cancellationToken);
    }

    /// <summary>
    /// Starts <paramref name="count"/> members where <paramref name="placement"/> puts them (address, ports
    /// client/http/peer, launcher such as <c>ip netns exec</c>) and waits until every one is healthy. With
    /// <paramref name="tls"/>, each member gets a certificate for its address and every URL is <c>https://</c>.
    /// </summary>
    public static async Task<ProcessCluster> StartAsync(
        int count,
        Func<int, MemberPlacement> placement,
        ITestOutputHelper? output = null,
        IReadOnlyList<string>? extraArguments = null,
        TestCertificates? tls = null,
        CancellationToken cancellationToken = default)
    {
        var directory = TempDirectory.Create("conclave-pcluster-");
        var places = Enumerable.Range(0, count).Select(placement).ToArray();
        var names = Enumerable.Range(1, count).Select(static i => $"m{i}").ToArray();
        var client = tls?.IssueClient("root");
        var memberTls = names.Select((n, i) => tls is null ? null : NodeTls.Issue(tls, n, places[i].Host, (client!.Value.Cert, client.Value.Key))).ToArray();
        var scheme = tls is null ? "http" : "https";
        var initialCluster = string.Join(',', names.Select((n, i) => $"{n}={scheme}://{places[i].Host}:{places[i].Ports[2]}"));
        var started = new NodeProcess?[count];
        try
        {
            await Task.WhenAll(names.Select(async (name, i) =>
            {
                var options = new NodeProcessOptions
                {
                    Name = name,
                    Output = output,
                    Host = places[i].Host,
                    Launcher = places[i].Launcher,
                    Tls = memberTls[i],
                    ExtraArguments = ["--initial-cluster", initialCluster, "--initial-cluster-state", "new", .. extraArguments ?? []],
                };
                started[i] = await NodeProcess.StartOnPortsAsync(directory.Combine(name), places[i].Ports, options, waitForHealth: false, cancellationToken);
            }));
            await Task.WhenAll(started.Select(m => m!.WaitUntilHealthyAsync(cancellationToken)));
            return new ProcessCluster(directory, [.. started.Select(static m => m!)], extraArguments ?? [], tls, memberTls.FirstOrDefault());
        }
        catch
        {
            foreach (var m in started)
            {
                if (m is not null)
                {
                    await m.DisposeAsync();
                }
            }

            directory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts one more member process on loopback as an operator does after <c>etcdctl member add</c>:
    /// <c>--initial-cluster</c> of every member so far plus itself, <c>--initial-cluster-state existing</c>. It is
    /// not healthy until the leader brought it in; the caller adds it (MemberAdd with <see cref="NodeProcess.PeerUrl"/>).
    /// </summary>
    /// <returns>Its index.</returns>
    public async Task<int> StartJoiningMemberAsync(ITestOutputHelper? output = null, CancellationToken cancellationToken = default)
    {
        var index = members.Length;
        var name = $"m{index + 1}";
        var ports = FreePorts.Take(3);
        var tls = certificates is null || clientTls is null
            ? null
            : NodeTls.Issue(certificates, name, "127.0.0.1", (clientTls.ClientCertFile, clientTls.ClientKeyFile));
        var initialCluster = string.Join(',', members.Select((m, i) => $"m{i + 1}={m.PeerUrl}").Append($"{name}={(tls is null ? "http" : "https")}://127.0.0.1:{ports[2]}"));
        var options = new NodeProcessOptions
        {
            Name = name,
            Output = output,
            Tls = tls,
            ExtraArguments = ["--initial-cluster", initialCluster, "--initial-cluster-state", "existing", .. extraArguments],
        };
        var member = await NodeProcess.StartOnPortsAsync(directory.Combine(name), ports, options, waitForHealth: false, cancellationToken);
        members = [.. members, member];
        return index;
    }

    /// <summary>
    /// The index of the member that every running member names as leader, asked over gRPC (Maintenance.Status),
    /// once they agree. Paused or killed members are skipped.
    /// </summary>
    public async Task<int> WaitForLeaderAsync(IReadOnlyCollection<int>? skip = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var leader = -1;
        await Eventually.WaitAsync(
            async ct =>
            {
                var asked = Enumerable.Range(0, Count).Where(i => !members[i].HasExited && (skip is null || !skip.Contains(i))).ToArray();
                var statuses = await Task.WhenAll(asked.Select(i => StatusAsync(i, ct)));
                var ids = statuses.Select(static s => s.Leader).Distinct().ToArray();
                if (ids is not [var id] || id == 0)
                {
                    return false;
                }

                var index = Array.FindIndex(statuses, s => s.Header.MemberId == id);
                leader = index >= 0 ? asked[index] : -1;
                return leader >= 0;
            },
            timeout ?? Eventually.DefaultTimeout,
            "the running members agree on a running leader",
            cancellationToken);
        return leader;
    }

    /// <summary>A gRPC channel to <paramref name="endpoint"/> (one of <see cref="Endpoints"/>), over TLS with the test's client certificate in a TLS cluster; the caller disposes it.</summary>
    public Grpc.Net.Client.GrpcChannel Connect(string endpoint) =>
        clientTls is null ? Grpc.Net.Client.GrpcChannel.ForAddress(endpoint) : clientTls.CreateChannel(endpoint);

    /// <summary>Maintenance.Status of member <paramref name="index"/>.</summary>
    public async Task<Api.Etcd.StatusResponse> StatusAsync(int index, CancellationToken cancellationToken = default)
    {
        using var channel = members[index].CreateChannel();
        return await new Api.Etcd.Maintenance.MaintenanceClient(channel)
            .StatusAsync(new Api.Etcd.StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        foreach (var m in members)
        {
            await m.DisposeAsync();
        }

        directory.Dispose();
    }
}

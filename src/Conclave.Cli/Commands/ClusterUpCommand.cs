using System.CommandLine;
using Conclave.Server;

namespace Conclave.Cli.Commands;

/// <summary>
/// <c>conclave cluster up</c>: a local cluster of 3 (or 5) members in one process for trying things out, on etcd's
/// local-cluster ports (2379, 22379, 32379, ...; peers on +1, HTTP on +2), data under one folder. Ctrl-C stops it;
/// running it again on the same folder restarts the same cluster.
/// </summary>
internal static class ClusterUpCommand
{
    public static Command Create()
    {
        var members = new Option<int>("--members") { Description = "How many members (1 to 5).", DefaultValueFactory = _ => 3 };
        var dataDir = new Option<string>("--data-dir") { Description = "Folder holding one data directory per member.", DefaultValueFactory = _ => "conclave.cluster" };
        var up = new Command("up", "Start a local cluster in this process (members m1..mN on 127.0.0.1:2379, 22379, 32379, ...).") { members, dataDir };
        up.SetAction(async (parse, cancellationToken) =>
        {
            var count = parse.GetValue(members);
            if (count is < 1 or > 5)
            {
                await Console.Error.WriteLineAsync("conclave cluster up: --members must be between 1 and 5.");
                return 1;
            }

            var root = Path.GetFullPath(parse.GetValue(dataDir)!);
            var ports = Enumerable.Range(0, count).Select(static i => i == 0 ? 2379 : 2379 + ((i + 1) * 10_000)).ToArray();
            var initialCluster = string.Join(',', ports.Select((p, i) => $"m{i + 1}=http://127.0.0.1:{p + 1}"));
            var servers = new List<ConclaveServer>();
            try
            {
                await Task.WhenAll(ports.Select(async (port, i) =>
                {
                    var server = await ConclaveServer.StartAsync(new ServerOptions
                    {
                        Name = $"m{i + 1}",
                        DataDirectory = Path.Combine(root, $"m{i + 1}"),
                        ListenClientUrls = [$"http://127.0.0.1:{port}"],
                        ListenPeerUrl = $"http://127.0.0.1:{port + 1}",
                        ListenHttpUrls = [$"http://127.0.0.1:{port + 2}"],
                        InitialCluster = initialCluster,
                    }, cancellationToken: cancellationToken);
                    lock (servers)
                    {
                        servers.Add(server);
                    }
                }));

                var endpoints = string.Join(',', ports.Select(static p => $"127.0.0.1:{p}"));
                Console.WriteLine();
                Console.WriteLine($"conclave cluster of {count} member(s) running, data in {root}");
                foreach (var (port, i) in ports.Select((p, i) => (p, i)))
                {
                    Console.WriteLine($"  m{i + 1}: grpc 127.0.0.1:{port}  peer 127.0.0.1:{port + 1}  http/console http://127.0.0.1:{port + 2}/");
                }

                Console.WriteLine($"try:  etcdctl --endpoints={endpoints} member list -w table");
                Console.WriteLine($"      ./conclave endpoint status --cluster --endpoints={endpoints} -o table");
                Console.WriteLine("Ctrl-C stops every member.");
                await Task.WhenAny(servers.Select(static s => s.Stopped).Append(Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken)))
                    .ContinueWith(static _ => { }, TaskScheduler.Default);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or System.Net.Sockets.SocketException)
            {
                await Console.Error.WriteLineAsync($"conclave cluster up: {e.Message}");
                return 1;
            }
            finally
            {
                await Task.WhenAll(servers.Select(static s => s.DisposeAsync().AsTask()));
            }
        });

        return new Command("cluster", "Local clusters for trying Conclave out.") { up };
    }
}

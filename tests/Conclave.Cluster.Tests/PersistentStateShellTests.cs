using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster.Tests;

/// <summary>
/// What <see cref="PersistentStateShell"/> relies on in DotNext (pinned at 6.12), checked so that an upgrade that
/// changes it fails here rather than in a cluster: <see cref="IPersistentState"/> can be implemented only by
/// deriving from <see cref="WriteAheadLog"/> (its <c>ConfigurationStorage</c> setter is internal); re-implementing the
/// interface on the derived class routes every other member to <see cref="RaftLog"/>; and RaftCluster reaches its log
/// only through the interface, so the base log it derives from is never written (ADR 0007).
/// </summary>
public sealed class PersistentStateShellTests : IAsyncLifetime
{
    private readonly List<TestMember> members = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public void Only_ConfigurationStorage_is_left_to_the_DotNext_base_class()
    {
        // The shell can exist only as a WriteAheadLog with a public constructor that RaftCluster accepts as its log.
        Assert.True(typeof(PersistentStateShell).IsSubclassOf(typeof(WriteAheadLog)));
        Assert.NotNull(typeof(WriteAheadLog).GetConstructor([typeof(WriteAheadLog.Options), typeof(IStateMachine)]));
        var setter = typeof(IPersistentState).GetProperty(nameof(IPersistentState.ConfigurationStorage))!.SetMethod!;
        Assert.True(setter.IsAssembly, "IPersistentState.ConfigurationStorage has an internal setter (else the shell could go)");

        // Every member of the interface, new ones too (abstract, or with a default body), must be answered by our log;
        // a member DotNext adds would otherwise reach the empty base log silently.
        var leftToBase = new List<string>();
        foreach (var contract in typeof(IPersistentState).GetInterfaces().Append(typeof(IPersistentState)))
        {
            var map = typeof(PersistentStateShell).GetInterfaceMap(contract);
            for (var i = 0; i < map.InterfaceMethods.Length; i++)
            {
                // IAuditTrail<T> gives IAuditTrail.ReadAsync a body of its own; that slot is IAuditTrail's, checked there.
                if (map.InterfaceMethods[i].IsPrivate)
                {
                    continue;
                }

                if (map.TargetMethods[i].DeclaringType != typeof(PersistentStateShell))
                {
                    leftToBase.Add($"{contract.Name}.{map.InterfaceMethods[i].Name} -> {map.TargetMethods[i].DeclaringType?.Name}");
                }
            }
        }

        Assert.Equal(
            [$"{nameof(IPersistentState)}.get_ConfigurationStorage -> {nameof(WriteAheadLog)}", $"{nameof(IPersistentState)}.set_ConfigurationStorage -> {nameof(WriteAheadLog)}"],
            leftToBase.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Elections_appends_commits_and_restarts_leave_the_base_log_empty()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => TestMember.FreePort()).ToArray();
        var initial = Enumerable.Range(0, 3).ToDictionary(i => $"m{i}", i => $"http://127.0.0.1:{ports[i]}");
        for (var i = 0; i < 3; i++)
        {
            var (name, port) = ($"m{i}", ports[i]);
            members.Add(new TestMember(o => o with
            {
                MemberName = name,
                PeerEndpoint = new IPEndPoint(IPAddress.Loopback, port),
                InitialCluster = initial,
                ProposalTimeout = TimeSpan.FromSeconds(3),
            }));
        }

        for (var run = 0; run < 2; run++)
        {
            var machines = members.Select(_ => new RecordingStateMachine()).ToArray();
            var nodes = new List<RaftNode>();
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await members[i].StartAsync(machines[i]));
            }

            // Votes, terms, appends on followers and commits all go through the shell.
            for (var written = 0; written < 20;)
            {
                await TestMember.WaitUntilAsync(() => nodes.Any(n => n.IsLeader), "a leader", 10_000);
                try
                {
                    await nodes.First(n => n.IsLeader).ProposeAsync(RecordingStateMachine.Put($"r{run}-{written}"));
                    written++;
                }
                catch (ConsensusUnavailableException)
                {
                    // The leader changed under the proposal; propose again on the next one.
                }
            }

            var leader = nodes.First(n => n.IsLeader);
            await leader.ReadBarrierAsync();
            var committed = leader.Status.CommitIndex;
            await TestMember.WaitUntilAsync(() => nodes.All(n => n.Status.AppliedIndex >= committed), "every member to apply", 10_000);
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }

        foreach (var member in members)
        {
            var shell = Path.Combine(member.DataDirectory, "log", "dotnext-shell");
            Assert.True(Directory.Exists(shell), shell);
            var written = Directory.EnumerateFiles(shell, "*", SearchOption.AllDirectories)
                .Where(static f => File.ReadAllBytes(f).AsSpan().ContainsAnyExcept((byte)0))
                .ToList();
            Assert.True(written.Count == 0, $"the base log was written: {string.Join(", ", written)}");
            Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(member.DataDirectory, "log"), "*.wal"));
        }
    }
}

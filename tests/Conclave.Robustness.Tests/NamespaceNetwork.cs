using System.Diagnostics;

namespace Conclave.Robustness.Tests;

/// <summary>
/// A private network for partition tests: one Linux network namespace per member, each with a veth into a bridge
/// in the test's namespace (members at 10.R.R.1, .2, ...; the test process at .254). <see cref="Isolate"/> adds
/// blackhole routes inside one member's namespace towards every other member, so that member and the rest cannot
/// exchange a single packet while the test process still reaches all of them. Needs root (as CI and test.sh run).
/// Everything is removed on dispose.
/// </summary>
internal sealed class NamespaceNetwork : IDisposable
{
    private readonly string id = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))[..5];
    private readonly string subnet = $"10.{Random.Shared.Next(64, 250)}.{Random.Shared.Next(1, 250)}";
    private readonly int count;
    private readonly List<Action> cleanup = [];

    private NamespaceNetwork(int count) => this.count = count;

    private string Bridge => $"cbr{id}";

    private string Namespace(int i) => $"cns{id}{i}";

    /// <summary>Address of member <paramref name="i"/>.</summary>
    public string Host(int i) => $"{subnet}.{i + 1}";

    /// <summary>The launcher that runs a command inside member <paramref name="i"/>'s namespace (<c>ip netns exec</c> execs, keeping the PID).</summary>
    public IReadOnlyList<string> Launcher(int i) => ["ip", "netns", "exec", Namespace(i)];

    public static NamespaceNetwork Create(int count)
    {
        Assert.True(Environment.UserName == "root", "partition tests create network namespaces and must run as root (as ./test.sh and CI do)");
        var network = new NamespaceNetwork(count);
        try
        {
            network.Build();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private void Build()
    {
        Ip($"link add {Bridge} type bridge");
        cleanup.Add(() => Ip($"link del {Bridge}", check: false));
        Ip($"addr add {subnet}.254/24 dev {Bridge}");
        Ip($"link set {Bridge} up");
        for (var i = 0; i < count; i++)
        {
            var ns = Namespace(i);
            var outside = $"cvo{id}{i}";
            var inside = $"cvi{id}{i}";
            Ip($"netns add {ns}");
            cleanup.Add(() => Ip($"netns del {ns}", check: false));
            Ip($"link add {outside} type veth peer name {inside}");
            Ip($"link set {inside} netns {ns}");
            Ip($"link set {outside} master {Bridge}");
            Ip($"link set {outside} up");
            Ip($"-n {ns} addr add {Host(i)}/24 dev {inside}");
            Ip($"-n {ns} link set {inside} up");
            Ip($"-n {ns} link set lo up");
        }
    }

    /// <summary>Cuts member <paramref name="i"/> off from every other member (both directions).</summary>
    public void Isolate(int i)
    {
        for (var j = 0; j < count; j++)
        {
            if (j != i)
            {
                Ip($"-n {Namespace(i)} route add blackhole {Host(j)}/32");
            }
        }
    }

    /// <summary>Undoes <see cref="Isolate"/>.</summary>
    public void Heal(int i)
    {
        for (var j = 0; j < count; j++)
        {
            if (j != i)
            {
                Ip($"-n {Namespace(i)} route del blackhole {Host(j)}/32", check: false);
            }
        }
    }

    private static void Ip(string arguments, bool check = true)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var error = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (check && p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {arguments} failed ({p.ExitCode}): {error.Trim()}");
        }
    }

    public void Dispose()
    {
        for (var i = cleanup.Count - 1; i >= 0; i--)
        {
            cleanup[i]();
        }
    }
}

using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>How <see cref="NodeProcess"/> runs <c>conclave serve</c>.</summary>
public sealed record NodeProcessOptions
{
    /// <summary><c>--name</c>; part of the member id, so keep it across restarts.</summary>
    public string Name { get; init; } = "conclave-test";

    /// <summary>
    /// The <c>conclave</c> executable to run (e.g. an earlier build's, for a mixed-version cluster); null: the one the
    /// test run names (<c>CONCLAVE_SERVER_BINARY</c>), else the JIT build next to the tests.
    /// </summary>
    public string? Binary { get; init; }

    /// <summary>More flags, e.g. <c>["--snapshot-count", "50"]</c>. The data directory and listen URLs are set by <see cref="NodeProcess"/>.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>How long the process may take to answer <c>/health</c> with 200.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Address every listener binds to and clients dial (a network namespace's address, for partitions).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>A command the server runs under, e.g. <c>["ip", "netns", "exec", "ns1"]</c> (it must exec, keeping the PID).</summary>
    public IReadOnlyList<string> Launcher { get; init; } = [];

    /// <summary>
    /// TLS on every listener (client, HTTP and peer URLs <c>https://</c>, client certificates required), or null for plain
    /// text. The test's own connections (<see cref="NodeProcess.CreateChannel"/>, the health probe) use its client certificate.
    /// </summary>
    public NodeTls? Tls { get; init; }

    /// <summary>Where to echo the process's stdout and stderr as well as its log file (none: the file only).</summary>
    public ITestOutputHelper? Output { get; init; }
}

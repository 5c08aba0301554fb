using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>How <see cref="NodeProcess"/> runs <c>conclave serve</c>.</summary>
public sealed record NodeProcessOptions
{
    /// <summary><c>--name</c>; part of the member id, so keep it across restarts.</summary>
    public string Name { get; init; } = "conclave-test";

    /// <summary>More flags, e.g. <c>["--snapshot-count", "50"]</c>. The data directory and listen URLs are set by <see cref="NodeProcess"/>.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>How long the process may take to answer <c>/health</c> with 200.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where to echo the process's stdout and stderr as well as its log file (none: the file only).</summary>
    public ITestOutputHelper? Output { get; init; }
}

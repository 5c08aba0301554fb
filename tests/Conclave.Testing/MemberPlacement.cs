namespace Conclave.Testing;

/// <summary>Where one member of a <see cref="ProcessCluster"/> runs: its address, ports (client, http, peer) and launcher.</summary>
public sealed record MemberPlacement(string Host, int[] Ports, IReadOnlyList<string> Launcher);

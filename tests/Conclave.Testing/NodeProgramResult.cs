using System.Text.Json;

namespace Conclave.Testing;

/// <summary>What one run of a <see cref="NodeProgram"/> printed.</summary>
public sealed record NodeProgramResult(string CommandLine, int ExitCode, IReadOnlyList<string> Stdout, string Stderr)
{
    /// <summary>The stdout lines that are JSON objects (the client programs print one per step), parsed.</summary>
    public IReadOnlyList<JsonElement> JsonLines =>
        [.. Stdout.Where(line => line.StartsWith('{')).Select(line => JsonDocument.Parse(line).RootElement.Clone())];

    public override string ToString() =>
        $"{CommandLine}\nexit: {ExitCode}\n--- stdout ---\n{string.Join('\n', Stdout)}\n--- stderr ---\n{Stderr}";
}

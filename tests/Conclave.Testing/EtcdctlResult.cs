namespace Conclave.Testing;

/// <summary>What one <c>etcdctl</c> run printed.</summary>
public sealed record EtcdctlResult(IReadOnlyList<string> Arguments, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Stdout split into lines (the final newline does not make an extra empty line).</summary>
    public IReadOnlyList<string> Lines => Etcdctl.SplitLines(Stdout);

    /// <summary>Throws with the full output unless the exit code is 0.</summary>
    public EtcdctlResult EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"etcdctl failed (exit {ExitCode}):\n{this}");

    public override string ToString() =>
        $"etcdctl {string.Join(' ', Arguments)}\nexit: {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// The outcome of importing one namespace, with why when it was not imported; for <c>Created</c> and <c>Updated</c>
/// (also in a dry run) what the import changes in the working copy (<see cref="Changes"/>: per item for properties, the
/// document as one entry otherwise; secret values masked) and <see cref="Detail"/> says it in one line.
/// </summary>
public sealed record ImportOutcome(string Env, string Namespace, ImportAction Action, string Detail = "")
{
    public IReadOnlyList<DiffEntry> Changes { get; init; } = [];
}

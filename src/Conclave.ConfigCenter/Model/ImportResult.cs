namespace Conclave.ConfigCenter.Model;

/// <summary>Every namespace of an import and what happened to it. Each namespace is imported atomically on its own.</summary>
public sealed record ImportResult(string App, bool DryRun, IReadOnlyList<ImportOutcome> Namespaces)
{
    /// <summary>True when some namespace was not imported (conflict or invalid).</summary>
    public bool HasProblems => Namespaces.Any(n => n.Action is ImportAction.Conflict or ImportAction.Invalid);
}

namespace Conclave.ConfigCenter.Model;

/// <summary>One environment in an export file.</summary>
public sealed record EnvironmentExport(string Name, IReadOnlyList<NamespaceExport> Namespaces);

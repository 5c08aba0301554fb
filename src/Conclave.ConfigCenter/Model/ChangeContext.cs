namespace Conclave.ConfigCenter.Model;

/// <summary>Who asks for a change and from where (until authentication exists, the author is declared).</summary>
public sealed record ChangeContext(string Author, string? From = null);

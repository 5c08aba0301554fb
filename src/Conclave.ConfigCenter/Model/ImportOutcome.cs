namespace Conclave.ConfigCenter.Model;

/// <summary>The outcome of importing one namespace, with why when it was not imported.</summary>
public sealed record ImportOutcome(string Env, string Namespace, ImportAction Action, string Detail = "");

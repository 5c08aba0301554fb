namespace Conclave.Client;

/// <summary>How often this instance served <see cref="Variant"/> of <see cref="Flag"/> (docs/feature-flags.md, "Evaluation insight").</summary>
/// <param name="Flag">The flag.</param>
/// <param name="Variant">The variant served.</param>
/// <param name="Total">Evaluations since the instance started (an estimate when sampled).</param>
/// <param name="Recent">Evaluations since the previous report of the namespace; at most <paramref name="Total"/>.</param>
public sealed record FlagEvaluationCount(string Flag, string Variant, long Total, long Recent);

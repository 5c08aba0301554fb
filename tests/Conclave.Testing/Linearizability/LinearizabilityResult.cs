namespace Conclave.Testing.Linearizability;

/// <summary>The checker's answer.</summary>
/// <param name="Verdict">Linearizable, not, or undecided in the time given.</param>
/// <param name="Key">The first key found not linearizable (or undecided), else <c>null</c>.</param>
/// <param name="Counterexample">
/// For <see cref="LinearizabilityVerdict.NotLinearizable"/>: the smallest sub-history of that key found that is
/// still not linearizable, ordered by call time; empty otherwise.
/// </param>
/// <param name="Report">A readable account: what was checked and, on failure, the counterexample.</param>
public sealed record LinearizabilityResult(LinearizabilityVerdict Verdict, string? Key, IReadOnlyList<Operation> Counterexample, string Report)
{
    public bool IsLinearizable => Verdict == LinearizabilityVerdict.Linearizable;

    public override string ToString() => Report;
}

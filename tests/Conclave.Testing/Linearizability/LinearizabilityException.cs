namespace Conclave.Testing.Linearizability;

/// <summary>A history that should have been linearizable was not (or could not be decided); the message is the checker's report.</summary>
public sealed class LinearizabilityException(LinearizabilityResult result) : Exception(result.Report)
{
    public LinearizabilityResult Result { get; } = result;
}

namespace Conclave.Extensions.Configuration;

/// <summary>
/// A required Conclave configuration source could not load at start-up: the service did not answer within the
/// start-up timeout and there was no usable last-known-good cache.
/// </summary>
public sealed class ConclaveStartupException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, naming the endpoints tried.</param>
    /// <param name="endpoints">The endpoints tried.</param>
    /// <param name="innerException">The last failure.</param>
    public ConclaveStartupException(string message, IReadOnlyList<string> endpoints, Exception? innerException)
        : base(message, innerException)
    {
        Endpoints = endpoints;
    }

    /// <summary>The endpoints tried.</summary>
    public IReadOnlyList<string> Endpoints { get; }
}

namespace Conclave.Extensions.Configuration;

/// <summary>
/// Decides whether a Conclave provider may apply a new release. <c>services.AddConclaveOptions&lt;T&gt;(section)</c>
/// registers one that binds the options types against the candidate configuration and runs their
/// <c>IValidateOptions&lt;T&gt;</c> (data annotations included).
/// </summary>
public interface IConclaveReleaseValidator
{
    /// <summary>Checks the data the provider would serve if it applied the release.</summary>
    /// <param name="provider">The provider asking.</param>
    /// <param name="candidate">All keys and values of the provider after the release (keys in <c>a:b:c</c> form).</param>
    /// <returns><c>null</c> to accept; otherwise why the release is refused (reported to the center).</returns>
    string? Validate(ConclaveConfigurationProvider provider, IReadOnlyDictionary<string, string?> candidate);
}

using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>Stands in for a Conclave provider while a release is validated: serves the candidate data.</summary>
internal sealed class CandidateProvider : ConfigurationProvider
{
    public CandidateProvider(IReadOnlyDictionary<string, string?> candidate) =>
        Data = new Dictionary<string, string?>(candidate, StringComparer.OrdinalIgnoreCase);

    public override void Load()
    {
        // The data is the candidate; there is nothing to load.
    }
}

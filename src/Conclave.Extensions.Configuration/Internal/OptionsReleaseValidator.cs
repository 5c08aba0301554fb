using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Validates a candidate release the way the app will see it: the app's whole configuration with the Conclave
/// provider's data replaced by the candidate, each options type registered with <c>AddConclaveOptions</c> bound
/// from it and run through its <c>IValidateOptions&lt;T&gt;</c> (data annotations included).
/// </summary>
internal sealed class OptionsReleaseValidator(IServiceProvider services, IEnumerable<ConclaveOptionsRegistration> registrations) : IConclaveReleaseValidator
{
    private readonly ConclaveOptionsRegistration[] registrations = [.. registrations];

    public string? Validate(ConclaveConfigurationProvider provider, IReadOnlyDictionary<string, string?> candidate)
    {
        if (registrations.Length == 0)
        {
            return null;
        }

        var providers = new List<IConfigurationProvider>();
        var replaced = false;
        if (services.GetService<IConfiguration>() is IConfigurationRoot live)
        {
            foreach (var p in live.Providers)
            {
                if (ReferenceEquals(p, provider))
                {
                    providers.Add(new CandidateProvider(candidate));
                    replaced = true;
                }
                else
                {
                    providers.Add(new ReadThroughProvider(p));
                }
            }
        }

        if (!replaced)
        {
            providers.Add(new CandidateProvider(candidate));
        }

        using var root = new ConfigurationRoot(providers);
        var failures = new List<string>();
        foreach (var registration in registrations)
        {
            if (registration.Validate(services, root) is { } failure)
            {
                failures.Add($"{registration.OptionsType.Name} ({registration.Section}): {failure}");
            }
        }

        return failures.Count == 0 ? null : string.Join("; ", failures);
    }
}

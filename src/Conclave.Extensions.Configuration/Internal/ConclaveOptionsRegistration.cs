using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>An options type bound from a section, and how to validate it against a candidate configuration.</summary>
/// <param name="OptionsType">The options type.</param>
/// <param name="Section">The configuration section it binds.</param>
/// <param name="Validate">Binds a fresh instance from a configuration and runs its validators; null when valid.</param>
internal sealed record ConclaveOptionsRegistration(Type OptionsType, string Section, Func<IServiceProvider, IConfiguration, string?> Validate);

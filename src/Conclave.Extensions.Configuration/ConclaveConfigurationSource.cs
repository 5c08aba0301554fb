using Microsoft.Extensions.Configuration;

namespace Conclave.Extensions.Configuration;

/// <summary>The <see cref="IConfigurationSource"/> of Conclave: builds a <see cref="ConclaveConfigurationProvider"/>.</summary>
public sealed class ConclaveConfigurationSource : IConfigurationSource
{
    /// <summary>Creates the source.</summary>
    /// <param name="options">The provider's settings.</param>
    public ConclaveConfigurationSource(ConclaveConfigurationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The provider's settings.</summary>
    public ConclaveConfigurationOptions Options { get; }

    /// <inheritdoc />
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new ConclaveConfigurationProvider(Options);
}

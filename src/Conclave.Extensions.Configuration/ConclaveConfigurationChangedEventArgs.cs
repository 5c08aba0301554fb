using Conclave.Client;

namespace Conclave.Extensions.Configuration;

/// <summary>What a Conclave provider just applied: the releases and the configuration keys whose values changed.</summary>
public sealed class ConclaveConfigurationChangedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="releases">The releases applied.</param>
    /// <param name="changedKeys">Configuration keys added, removed or given another value.</param>
    /// <param name="origin">Where the new values came from.</param>
    public ConclaveConfigurationChangedEventArgs(IReadOnlyList<ConfigRelease> releases, IReadOnlyList<string> changedKeys, ConclaveConfigurationOrigin origin)
    {
        Releases = releases;
        ChangedKeys = changedKeys;
        Origin = origin;
    }

    /// <summary>The releases applied.</summary>
    public IReadOnlyList<ConfigRelease> Releases { get; }

    /// <summary>Configuration keys (<c>a:b:c</c> form) added, removed or given another value, ordinal-ignore-case sorted.</summary>
    public IReadOnlyList<string> ChangedKeys { get; }

    /// <summary>Where the new values came from.</summary>
    public ConclaveConfigurationOrigin Origin { get; }
}

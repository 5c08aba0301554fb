namespace Conclave.Extensions.Configuration;

/// <summary>Where the values a Conclave provider serves came from.</summary>
public enum ConclaveConfigurationOrigin
{
    /// <summary>Nothing yet: the service was unreachable at start-up, there was no cache, and the source is optional.</summary>
    None = 0,

    /// <summary>The last-known-good cache on disk: the service has not answered since start-up.</summary>
    Cache = 1,

    /// <summary>The service.</summary>
    Server = 2,
}

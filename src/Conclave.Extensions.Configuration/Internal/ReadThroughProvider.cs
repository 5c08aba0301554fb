using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Lends a live provider to a throw-away candidate configuration: reads go through, while Load, Set and reload
/// tokens do not reach the real provider (building a <see cref="ConfigurationRoot"/> calls Load on every provider).
/// </summary>
internal sealed class ReadThroughProvider(IConfigurationProvider inner) : IConfigurationProvider
{
    private static readonly IChangeToken Never = new CancellationChangeToken(CancellationToken.None);

    public bool TryGet(string key, out string? value) => inner.TryGet(key, out value);

    public void Set(string key, string? value)
    {
        // A candidate configuration is read-only.
    }

    public IChangeToken GetReloadToken() => Never;

    public void Load()
    {
        // The live provider is loaded already.
    }

    public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => inner.GetChildKeys(earlierKeys, parentPath);
}

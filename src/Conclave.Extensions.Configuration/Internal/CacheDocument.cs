using Conclave.Client;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>The plaintext of the last-known-good cache (format version 1).</summary>
/// <param name="Version">Document version, 1.</param>
/// <param name="SavedAt">When it was written.</param>
/// <param name="Releases">The releases applied at that time, one per namespace.</param>
internal sealed record CacheDocument(int Version, DateTimeOffset SavedAt, IReadOnlyList<ConfigRelease> Releases);

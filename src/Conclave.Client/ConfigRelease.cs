namespace Conclave.Client;

/// <summary>
/// A release of one namespace as the configuration center delivers it to this instance: the main release, or a
/// gray release when the instance matches the gray rule. Immutable; ids only grow (a rollback is a new release).
/// </summary>
/// <param name="App">App id.</param>
/// <param name="Environment">Environment name.</param>
/// <param name="Namespace">Namespace name.</param>
/// <param name="ReleaseId">Release id, growing by one per namespace.</param>
/// <param name="Format"><c>properties</c>, <c>json</c>, <c>yaml</c> or <c>text</c>.</param>
/// <param name="Content">The released document (for properties, the items as text).</param>
/// <param name="Configurations">For properties: the key/value items; empty for the other formats.</param>
/// <param name="ContentHash">SHA-256 (hex) of <paramref name="Content"/>.</param>
/// <param name="IsGray">Whether this is a gray release chosen for this instance by the gray rule.</param>
/// <param name="Title">Release title.</param>
/// <param name="Author">Who published it.</param>
/// <param name="CreatedAt">When it was published.</param>
public sealed record ConfigRelease(
    string App,
    string Environment,
    string Namespace,
    long ReleaseId,
    string Format,
    string Content,
    IReadOnlyDictionary<string, string> Configurations,
    string ContentHash,
    bool IsGray,
    string Title,
    string Author,
    DateTimeOffset CreatedAt)
{
    internal static ConfigRelease From(Conclave.Api.Config.V1.Release r) => new(
        r.App,
        r.Env,
        r.Namespace,
        r.ReleaseId,
        r.Format,
        r.Content,
        new Dictionary<string, string>(r.Configurations, StringComparer.Ordinal),
        r.ContentHash,
        r.Gray,
        r.Title,
        r.Author,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedUnixMs));
}

namespace Conclave.Client;

/// <summary>
/// Which configuration an instance asks the configuration center for: an app's environment, the namespaces it
/// uses (in order), and who the instance is (gray rules match on <see cref="InstanceId"/> and <see cref="Labels"/>).
/// </summary>
public sealed record ConfigTarget
{
    /// <summary>The app id, e.g. <c>orders</c>.</summary>
    public required string App { get; init; }

    /// <summary>The environment name, e.g. <c>PRO</c>.</summary>
    public required string Environment { get; init; }

    /// <summary>Namespace names, e.g. <c>application</c>, <c>db.json</c>. At least one.</summary>
    public required IReadOnlyList<string> Namespaces { get; init; }

    /// <summary>
    /// Stable id of this instance (pod or host name). <c>null</c> uses <see cref="ConclaveClientOptions.InstanceId"/>.
    /// Percentage gray rules hash it, so it should not change across restarts.
    /// </summary>
    public string? InstanceId { get; init; }

    /// <summary>
    /// The app credential for this app and environment (<c>{id}.{secret}</c>); null uses
    /// <see cref="ConclaveClientOptions.AccessKey"/> or the <c>CONCLAVE_ACCESS_KEY</c> environment variable.
    /// </summary>
    public string? AccessKey { get; init; }

    /// <summary>Labels of this instance (<c>zone</c> = <c>eu1</c>), matched by label gray rules.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}

namespace Conclave.Testing;

/// <summary>Files of the repository the tests were built from: the folder holding <c>Conclave.slnx</c>, above the test binaries.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Conclave.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no Conclave.slnx above {AppContext.BaseDirectory}");
    });

    /// <summary>The repository's root folder.</summary>
    public static string Root => RootDirectory.Value;

    /// <summary>A path below the root, e.g. <c>Of("tests", "flags", "vectors.json")</c>.</summary>
    public static string Of(params string[] parts) => Path.Combine([Root, .. parts]);
}

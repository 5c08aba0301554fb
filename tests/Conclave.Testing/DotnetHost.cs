namespace Conclave.Testing;

/// <summary>Finds the <c>dotnet</c> muxer and the <c>conclave.dll</c> copied next to the tests.</summary>
internal static class DotnetHost
{
    public static string ConclaveDll
    {
        get
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "conclave.dll");
            var runtimeConfig = Path.Combine(AppContext.BaseDirectory, "conclave.runtimeconfig.json");
            if (!File.Exists(dll) || !File.Exists(runtimeConfig))
            {
                throw new InvalidOperationException(
                    $"conclave.dll or conclave.runtimeconfig.json is missing from {AppContext.BaseDirectory}: " +
                    "the test project must reference Conclave.Testing (which references src/Conclave.Cli) and be built.");
            }

            return dll;
        }
    }

    public static string Muxer { get; } = FindMuxer();

    private static string FindMuxer()
    {
        var fileName = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            Environment.ProcessPath is { } self && Path.GetFileName(self) == fileName ? self : null,
        };
        foreach (var root in new[] { Environment.GetEnvironmentVariable("DOTNET_ROOT"), Path.GetDirectoryName(typeof(object).Assembly.Location) is { } fx ? Path.GetFullPath(Path.Combine(fx, "..", "..", "..")) : null })
        {
            candidates.Add(root is null ? null : Path.Combine(root, fileName));
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            candidates.Add(Path.Combine(dir, fileName));
        }

        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("cannot find the dotnet host: set DOTNET_HOST_PATH or put dotnet on PATH");
    }
}

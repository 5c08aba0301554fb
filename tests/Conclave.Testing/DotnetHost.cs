namespace Conclave.Testing;

/// <summary>Finds the <c>dotnet</c> muxer and the <c>conclave.dll</c> copied next to the tests.</summary>
public static class DotnetHost
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

    /// <summary>
    /// The native <c>conclave</c> binary member processes run as, from <c>CONCLAVE_SERVER_BINARY</c> (set by
    /// <c>test.sh</c> to the Native AOT build <c>./conclave</c> publishes); null runs them from <see cref="ConclaveDll"/>.
    /// </summary>
    public static string? NativeServer { get; } = FindNativeServer();

    public static string Muxer { get; } = FindMuxer();

    private static string? FindNativeServer()
    {
        var path = Environment.GetEnvironmentVariable("CONCLAVE_SERVER_BINARY");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        return File.Exists(path)
            ? Path.GetFullPath(path)
            : throw new InvalidOperationException($"CONCLAVE_SERVER_BINARY names {path}, which does not exist");
    }

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

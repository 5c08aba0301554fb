using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conclave.Cli.Tests.Upgrades;

/// <summary>
/// A checked-in data directory (<c>tests/fixtures/data-dir-format-N.tar.gz</c>) and what it holds
/// (<c>data-dir-format-N.json</c>), written by <see cref="DataDirectoryFixtureTests.Writes_a_fixture_when_asked"/> with
/// the build of that day. docs/upgrades.md: every later build must open every fixture.
/// </summary>
internal sealed record DataDirectoryFixture
{
    public const string Prefix = "data-dir-format-";

    /// <summary>The member's <c>--name</c> (part of its id: a member started on the directory must use it).</summary>
    public required string Name { get; init; }

    /// <summary>The data directory format the build that wrote it recorded.</summary>
    public required int Format { get; init; }

    /// <summary><c>conclave --version</c> of the build that wrote it.</summary>
    public required string WrittenBy { get; init; }

    public required int SnapshotCount { get; init; }

    public required long SnapshotIndex { get; init; }

    public required long AppliedIndex { get; init; }

    public required long Revision { get; init; }

    public required long CompactRevision { get; init; }

    /// <summary>Every user key at <see cref="Revision"/>: <c>key=value create C mod M version V lease L</c>.</summary>
    public required IReadOnlyList<string> Keys { get; init; }

    /// <summary>Older values that must still be readable: key, revision, value.</summary>
    public required IReadOnlyList<HistoricRead> History { get; init; }

    public required long LeaseId { get; init; }

    public required long LeaseTtl { get; init; }

    public required string LeaseKey { get; init; }

    public required string User { get; init; }

    public required string Role { get; init; }

    public required string App { get; init; }

    public required string Environment { get; init; }

    public required string Namespace { get; init; }

    public required long ReleaseId { get; init; }

    public required string ReleaseTitle { get; init; }

    public required string ContentHash { get; init; }

    public required IReadOnlyDictionary<string, string> Configurations { get; init; }

    public sealed record HistoricRead(string Key, long Revision, string Value);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary><c>tests/fixtures</c> of the repository the tests were built from.</summary>
    public static string Directory => RepositoryPaths.Of("tests", "fixtures");

    /// <summary>The fixtures checked in, by name (<c>data-dir-format-1</c>).</summary>
    public static IEnumerable<string> All() =>
        System.IO.Directory.EnumerateFiles(Directory, Prefix + "*.tar.gz")
            .Select(static p => Path.GetFileName(p)[..^".tar.gz".Length])
            .Order(StringComparer.Ordinal);

    public static DataDirectoryFixture Load(string name) =>
        JsonSerializer.Deserialize<DataDirectoryFixture>(File.ReadAllText(Path.Combine(Directory, name + ".json")), Json)
        ?? throw new InvalidDataException($"{name}.json is empty");

    public void Save(string name) => File.WriteAllText(Path.Combine(Directory, name + ".json"), JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>Extracts fixture <paramref name="name"/> into <paramref name="destination"/> (created; private, as a member makes it).</summary>
    public static void Extract(string name, string destination)
    {
        System.IO.Directory.CreateDirectory(destination);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(destination, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        using var file = File.OpenRead(Path.Combine(Directory, name + ".tar.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        TarFile.ExtractToDirectory(gzip, destination, overwriteFiles: false);
    }

    /// <summary>
    /// Packs <paramref name="dataDirectory"/> (without the test harness's process log) as fixture <paramref name="name"/>.
    /// Segments are zero-filled to their full size (ADR 0007), and compress to almost nothing.
    /// </summary>
    public static void Pack(string dataDirectory, string name)
    {
        var target = Path.Combine(Directory, name + ".tar.gz");
        using var file = File.Create(target);
        using var gzip = new GZipStream(file, CompressionLevel.SmallestSize);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        foreach (var path in System.IO.Directory.EnumerateFileSystemEntries(dataDirectory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(dataDirectory, path);
            if (relative == NodeProcess.LogFileName)
            {
                continue;
            }

            tar.WriteEntry(path, relative);
        }
    }
}

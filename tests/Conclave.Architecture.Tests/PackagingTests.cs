using System.Xml.Linq;

namespace Conclave.Architecture.Tests;

/// <summary>What becomes a NuGet package (docs/packages.md), checked against the project files.</summary>
public sealed class PackagingTests
{
    /// <summary>The packages users install; everything else (server, CLI, tests, bench/, samples/) never packs.</summary>
    private static readonly string[] Packed = ["Conclave.Api", "Conclave.Client", "Conclave.Extensions.Configuration"];

    /// <summary>The packages whose public API is tracked in PublicAPI.Shipped.txt / PublicAPI.Unshipped.txt.</summary>
    private static readonly string[] Tracked = ["Conclave.Client", "Conclave.Extensions.Configuration"];

    [Fact]
    public void Only_the_client_packages_are_packable()
    {
        var packable = ProjectFiles().Where(p => Property(p, "IsPackable") == "true").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.True(packable.SequenceEqual(Packed.Order()), $"packable: [{string.Join(", ", packable)}]; the packages are [{string.Join(", ", Packed)}]");

        var props = XDocument.Load(Path.Combine(SourceProjects.Root, "Directory.Build.props"));
        Assert.Equal("false", props.Descendants("IsPackable").Single().Value);

        // Directory.Build.props names the packed projects for ContinuousIntegrationBuild (read before project files).
        var ci = props.Descendants("ContinuousIntegrationBuild").Single().Parent!.Attribute("Condition")!.Value;
        Assert.All(Packed, id => Assert.Contains($"'{id}'", ci, StringComparison.Ordinal));
    }

    [Fact]
    public void The_client_packages_track_their_public_API()
    {
        var tracking = ProjectFiles().Where(p => Property(p, "TrackPublicApi") == "true").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.True(tracking.SequenceEqual(Tracked.Order()), $"tracking the public API: [{string.Join(", ", tracking)}]; expected [{string.Join(", ", Tracked)}]");
        foreach (var id in Tracked)
        {
            foreach (var file in new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" })
            {
                var path = Path.Combine(SourceProjects.Root, "src", id, file);
                Assert.True(File.Exists(path), $"{path} is missing");
                Assert.Equal("#nullable enable", File.ReadLines(path).First());
            }
        }
    }

    private static IEnumerable<string> ProjectFiles() =>
        Directory.EnumerateFiles(SourceProjects.Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains("/bin/", StringComparison.Ordinal) && !p.Contains("/obj/", StringComparison.Ordinal) && !p.Contains("/node_modules/", StringComparison.Ordinal));

    private static string? Property(string projectFile, string name) =>
        XDocument.Load(projectFile).Descendants(name).Select(e => e.Value.Trim()).LastOrDefault();
}

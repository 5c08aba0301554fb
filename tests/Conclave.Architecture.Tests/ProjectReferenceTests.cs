using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace Conclave.Architecture.Tests;

/// <summary>The dependency direction of DESIGN.md, checked against the project files themselves.</summary>
public sealed class ProjectReferenceTests
{
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Conclave.Api"] = [],
        ["Conclave.Storage"] = ["Conclave.Api"],
        ["Conclave.Cluster"] = ["Conclave.Storage", "Conclave.Api"],
        ["Conclave.ConfigCenter"] = ["Conclave.Api"],
        ["Conclave.Server"] = ["Conclave.Api", "Conclave.Storage", "Conclave.Cluster", "Conclave.ConfigCenter"],
        ["Conclave.Client"] = ["Conclave.Api"],
        ["Conclave.Extensions.Configuration"] = ["Conclave.Client", "Conclave.Api"],
        ["Conclave.Cli"] = ["Conclave.Server", "Conclave.Client", "Conclave.Api", "Conclave.Storage", "Conclave.Cluster", "Conclave.ConfigCenter"],
    };

    public static TheoryData<string> Projects() => new(Allowed.Keys);

    [Theory]
    [MemberData(nameof(Projects))]
    public void Project_references_follow_the_design(string project)
    {
        var path = Path.Combine(RepoRoot(), "src", project, project + ".csproj");
        Assert.True(File.Exists(path), $"{path} is missing");
        var references = XDocument.Load(path).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToList();
        var forbidden = references.Except(Allowed[project]).ToList();
        Assert.True(forbidden.Count == 0, $"{project} may not reference {string.Join(", ", forbidden)} (see DESIGN.md)");
    }

    [Fact]
    public void Every_source_project_is_in_the_table()
    {
        var projects = Directory.GetDirectories(Path.Combine(RepoRoot(), "src")).Select(Path.GetFileName).ToList();
        Assert.All(projects, p => Assert.True(Allowed.ContainsKey(p!), $"src/{p} is not in the dependency table"));
    }

    [Fact]
    public void No_package_versions_in_project_files()
    {
        foreach (var csproj in Directory.EnumerateFiles(RepoRoot(), "*.csproj", SearchOption.AllDirectories).Where(p => !p.Contains("/bin/", StringComparison.Ordinal) && !p.Contains("/obj/", StringComparison.Ordinal)))
        {
            var withVersion = XDocument.Load(csproj).Descendants("PackageReference").Where(e => e.Attribute("Version") is not null).ToList();
            Assert.True(withVersion.Count == 0, $"{csproj} pins a version; versions belong in Directory.Packages.props");
        }
    }

    private static string RepoRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}

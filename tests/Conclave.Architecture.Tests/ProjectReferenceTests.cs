using System.Xml.Linq;

namespace Conclave.Architecture.Tests;

/// <summary>The dependency direction of DESIGN.md, checked against the project files themselves.</summary>
public sealed class ProjectReferenceTests
{
    public static TheoryData<string> Projects() => new(SourceProjects.References.Keys);

    [Theory]
    [MemberData(nameof(Projects))]
    public void Project_references_are_exactly_the_designs(string project)
    {
        Assert.True(File.Exists(SourceProjects.ProjectFile(project)), $"{SourceProjects.ProjectFile(project)} is missing");
        var references = SourceProjects.Items(project, "ProjectReference").Select(Path.GetFileNameWithoutExtension).Order().ToList();

        var allowed = SourceProjects.References[project].Order().ToList();

        Assert.True(
            references.SequenceEqual(allowed),
            $"{project} references [{string.Join(", ", references)}]; DESIGN.md's table says [{string.Join(", ", allowed)}]");
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Project_references_stay_inside_src(string project)
    {
        var src = Path.Combine(SourceProjects.Root, "src") + Path.DirectorySeparatorChar;
        var directory = Path.GetDirectoryName(SourceProjects.ProjectFile(project))!;

        var outside = SourceProjects.Items(project, "ProjectReference")
            .Where(include => !Path.GetFullPath(Path.Combine(directory, include)).StartsWith(src, StringComparison.Ordinal))
            .ToList();

        Assert.True(outside.Count == 0, $"{project} references {string.Join(", ", outside)}: what ships never depends on bench/, tests/ or samples/");
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Package_references_are_the_ones_the_layer_needs(string project)
    {
        var packages = SourceProjects.Items(project, "PackageReference").Order().ToList();
        var frameworks = SourceProjects.Items(project, "FrameworkReference").Order().ToList();

        var allowedPackages = SourceProjects.Packages[project].Order().ToList();
        var allowedFrameworks = SourceProjects.Frameworks.GetValueOrDefault(project, []).Order().ToList();

        Assert.True(
            packages.SequenceEqual(allowedPackages),
            $"{project} references packages [{string.Join(", ", packages)}]; the design allows [{string.Join(", ", allowedPackages)}] (SourceProjects.Packages)");
        Assert.True(
            frameworks.SequenceEqual(allowedFrameworks),
            $"{project} references frameworks [{string.Join(", ", frameworks)}]; the design allows [{string.Join(", ", allowedFrameworks)}]");
    }

    [Fact]
    public void Global_package_references_are_development_only_analyzers()
    {
        var global = XDocument.Load(Path.Combine(SourceProjects.Root, "Directory.Packages.props")).Descendants("GlobalPackageReference").ToList();

        var names = global.Select(e => e.Attribute("Include")!.Value).Order().ToList();
        Assert.True(
            names.SequenceEqual(SourceProjects.GlobalAnalyzers.Order()),
            $"Directory.Packages.props references [{string.Join(", ", names)}] in every project; SourceProjects.GlobalAnalyzers allows [{string.Join(", ", SourceProjects.GlobalAnalyzers)}]");

        // A global reference is PrivateAssets=all unless told otherwise: none may be told otherwise, or it would ship.
        var flowing = global.Where(e => e.Attribute("PrivateAssets") is { } a && !a.Value.Equals("all", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(flowing.Count == 0, $"{string.Join(", ", flowing.Select(e => e.Attribute("Include")!.Value))} would flow to the packages' users");
    }

    [Fact]
    public void Every_source_project_is_in_the_table()
    {
        var projects = Directory.GetDirectories(Path.Combine(SourceProjects.Root, "src")).Select(Path.GetFileName).ToList();
        Assert.All(projects, p => Assert.True(SourceProjects.References.ContainsKey(p!), $"src/{p} is not in the dependency table"));
    }

    [Fact]
    public void No_package_versions_in_project_files()
    {
        foreach (var csproj in Directory.EnumerateFiles(SourceProjects.Root, "*.csproj", SearchOption.AllDirectories).Where(p => !p.Contains("/bin/", StringComparison.Ordinal) && !p.Contains("/obj/", StringComparison.Ordinal)))
        {
            var withVersion = XDocument.Load(csproj).Descendants("PackageReference").Where(e => e.Attribute("Version") is not null).ToList();
            Assert.True(withVersion.Count == 0, $"{csproj} pins a version; versions belong in Directory.Packages.props");
        }
    }
}

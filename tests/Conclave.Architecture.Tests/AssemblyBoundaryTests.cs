using System.Reflection;
using System.Runtime.CompilerServices;

namespace Conclave.Architecture.Tests;

/// <summary>
/// What the compiler emitted for each shipped assembly: who may see its internals, and which of our assemblies the
/// executable really uses. Read from the built assemblies, so an attribute in a .cs file counts as much as one in a
/// project file.
/// </summary>
public sealed class AssemblyBoundaryTests
{
    public static TheoryData<string> Projects() => new(SourceProjects.References.Keys);

    [Theory]
    [MemberData(nameof(Projects))]
    public void Internals_are_visible_to_test_assemblies_only(string project)
    {
        var assembly = Assembly.Load(SourceProjects.AssemblyName(project));

        var friends = assembly.GetCustomAttributes<InternalsVisibleToAttribute>()
            .Select(a => a.AssemblyName.Split(',')[0].Trim())
            .ToList();

        var notTests = friends.Where(f => !f.EndsWith(".Tests", StringComparison.Ordinal)).ToList();
        Assert.True(
            notTests.Count == 0,
            $"{project} shows its internals to {string.Join(", ", notTests)}: products use public APIs (STYLE.md habit 18); only *.Tests may see internals");
    }

    [Fact]
    public void The_executable_uses_the_server_and_the_client_not_the_layers_below()
    {
        // Api comes with both: the SDK's and the server's public types are built on its messages.
        string[] allowed = ["Conclave.Server", "Conclave.Client", "Conclave.Api"];

        var ours = Assembly.Load("conclave").GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("Conclave.", StringComparison.Ordinal))
            .ToList();

        var below = ours.Except(allowed).ToList();
        Assert.True(below.Count == 0, $"conclave uses {string.Join(", ", below)} directly; it may use only {string.Join(", ", allowed)} (DESIGN.md)");
    }
}

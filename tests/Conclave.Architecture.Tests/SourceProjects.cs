using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace Conclave.Architecture.Tests;

/// <summary>
/// DESIGN.md's table "Projects and who may reference whom", and what each shipped project may pull in from NuGet.
/// A change to either is a design decision: make it here and in DESIGN.md together.
/// </summary>
internal static class SourceProjects
{
    /// <summary>Direct project references, exactly (transitive ones come through these).</summary>
    public static readonly Dictionary<string, string[]> References = new()
    {
        ["Conclave.Api"] = [],
        ["Conclave.Storage"] = ["Conclave.Api"],
        ["Conclave.Cluster"] = ["Conclave.Storage"],
        ["Conclave.ConfigCenter"] = ["Conclave.Api"],
        ["Conclave.Server"] = ["Conclave.Api", "Conclave.Storage", "Conclave.Cluster", "Conclave.ConfigCenter"],
        ["Conclave.Client"] = ["Conclave.Api"],
        ["Conclave.Extensions.Configuration"] = ["Conclave.Client"],
        // The executable hosts the server through its public API and drives clusters through the SDK; never the
        // layers below the server directly. Load generators live under bench/.
        ["Conclave.Cli"] = ["Conclave.Server", "Conclave.Client"],
    };

    /// <summary>
    /// Package references, exactly. The state machine (Storage) takes none: no sockets, no Raft, no clock. ASP.NET Core
    /// is the server's alone; the SDK and the provider stay free of server and consensus packages.
    /// </summary>
    public static readonly Dictionary<string, string[]> Packages = new()
    {
        ["Conclave.Api"] = ["Google.Protobuf", "Grpc.Core.Api", "Grpc.Tools"],
        ["Conclave.Storage"] = [],
        ["Conclave.Cluster"] = ["DotNext.Net.Cluster", "Microsoft.Extensions.Logging.Abstractions"],
        ["Conclave.ConfigCenter"] = ["YamlDotNet", "JsonSchema.Net"],
        // bcrypt: etcd's password hashes (ADR 0014). OpenApi: /api/v1/openapi.json, generated from the endpoints.
        // OpenTelemetry: traces over OTLP, only when a collector is configured (docs/operations.md).
        ["Conclave.Server"] =
        [
            "BCrypt.Net-Next", "Grpc.AspNetCore", "Microsoft.AspNetCore.OpenApi", "OpenTelemetry",
            "OpenTelemetry.Exporter.OpenTelemetryProtocol", "OpenTelemetry.Instrumentation.AspNetCore",
        ],
        ["Conclave.Client"] = ["Grpc.Net.Client", "Microsoft.Extensions.Logging.Abstractions"],
        ["Conclave.Extensions.Configuration"] =
        [
            "Microsoft.Extensions.Configuration", "Microsoft.Extensions.Configuration.Binder",
            "Microsoft.Extensions.DependencyInjection.Abstractions", "Microsoft.Extensions.Diagnostics.HealthChecks",
            "Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.Logging.Abstractions",
            "Microsoft.Extensions.Options", "Microsoft.Extensions.Options.ConfigurationExtensions", "YamlDotNet",
            "Microsoft.FeatureManagement",
        ],
        ["Conclave.Cli"] = ["System.CommandLine"],
    };

    /// <summary>
    /// The analyzers every project gets from <c>Directory.Packages.props</c> (<c>GlobalPackageReference</c>), on top of
    /// <see cref="Packages"/>. NuGet gives a global reference <c>PrivateAssets=all</c>: it checks the build and never flows
    /// to a package's users, so it is not a dependency of the layer and the per-project check leaves it out.
    /// </summary>
    public static readonly string[] GlobalAnalyzers = ["Microsoft.CodeAnalysis.BannedApiAnalyzers", "Microsoft.VisualStudio.Threading.Analyzers"];

    /// <summary>Shared frameworks beyond the base one.</summary>
    public static readonly Dictionary<string, string[]> Frameworks = new()
    {
        ["Conclave.Server"] = ["Microsoft.AspNetCore.App"],
    };

    /// <summary>The assembly each project builds (the CLI's is the <c>conclave</c> executable).</summary>
    public static string AssemblyName(string project) => project == "Conclave.Cli" ? "conclave" : project;

    public static string Root { get; } = FindRoot();

    public static string ProjectFile(string project) => Path.Combine(Root, "src", project, project + ".csproj");

    public static XDocument Load(string project) => XDocument.Load(ProjectFile(project));

    /// <summary>The <c>Include</c> of every <paramref name="item"/> element of the project file.</summary>
    public static List<string> Items(string project, string item) =>
        [.. Load(project).Descendants(item).Select(e => e.Attribute("Include")!.Value.Replace('\\', '/'))];

    private static string FindRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}

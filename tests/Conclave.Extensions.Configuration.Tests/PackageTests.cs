using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Xml.Linq;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// The packages users install (docs/packages.md): <c>dotnet pack</c> of Conclave.Api, Conclave.Client and
/// Conclave.Extensions.Configuration into a folder feed; what each package carries; and <c>samples/Orders</c>, copied out
/// of the repository with its project reference replaced by a package reference, restored from that feed (Conclave.*
/// only from there, into an empty packages folder), built, and run against a real member. This is how CI runs
/// <c>dotnet pack</c> (.ci/run → test.sh → dotnet test). About a minute on the 2-core machine. It runs alone, after
/// this project's other tests (<see cref="PackageTestsCollection"/>): a pack keeps both cores busy for most of that
/// minute, which would stretch the outage and failover tests' deadlines.
/// </summary>
[Collection(nameof(PackageTestsCollection))]
public sealed class PackageTests(NodeFixture fixture, ITestOutputHelper output) : IClassFixture<NodeFixture>
{
    private static readonly string[] PackageIds = ["Conclave.Api", "Conclave.Client", "Conclave.Extensions.Configuration"];

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);

    private static string Root { get; } = FindRoot();

    [Fact]
    public async Task Orders_restores_builds_and_runs_from_the_packed_packages()
    {
        var started = Stopwatch.GetTimestamp();
        using var work = TempDirectory.Create("conclave-packages-");
        var feed = work.Combine("feed");
        var version = PackageVersion();

        // Pack the three projects as a release would. --artifacts-path keeps the Release build's obj/ and bin/ out of
        // the repository, so this never touches the outputs the other test projects run from.
        var none = new Dictionary<string, string>();
        var artifacts = work.Combine("artifacts");
        await DotnetCli.RunAsync(["pack", "src/Conclave.Extensions.Configuration", "-c", "Release", "-o", feed, "--artifacts-path", artifacts, "--disable-build-servers"], Root, none, output, CommandTimeout);
        foreach (var id in PackageIds[..2])
        {
            await DotnetCli.RunAsync(["pack", $"src/{id}", "-c", "Release", "-o", feed, "--artifacts-path", artifacts, "--no-build"], Root, none, output, CommandTimeout);
        }

        foreach (var id in PackageIds)
        {
            AssertPackage(feed, id, version);
        }

        // The sample, outside the repository (no Directory.Build.props or central versions reach it), referencing the
        // package instead of the project.
        var app = work.Combine("orders");
        CopySample(app, version);
        var packages = work.Combine("packages");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), NuGetConfig(feed));
        var isolated = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packages };
        await DotnetCli.RunAsync(["build", app, "-c", "Release", "--disable-build-servers"], app, isolated, output, CommandTimeout);

        // What was restored came from this run's feed (the packages folder started empty and Conclave.* map to the feed only).
        foreach (var id in PackageIds)
        {
            var restored = Path.Combine(packages, id.ToLowerInvariant(), version);
            Assert.True(Directory.Exists(restored), $"{id} {version} was not restored into {packages}");
            var metadata = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(restored, ".nupkg.metadata"))).RootElement;
            Assert.Equal(Path.GetFullPath(feed), Path.GetFullPath(metadata.GetProperty("source").GetString()!));
        }

        await RunAgainstMemberAsync(app);
        TestOutput.TryWriteLine(output, $"pack, restore, build and run took {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s");
    }

    /// <summary>The release version: Directory.Build.props' VersionPrefix, the one place it is set.</summary>
    private static string PackageVersion()
    {
        var props = XDocument.Load(Path.Combine(Root, "Directory.Build.props"));
        var prefix = props.Descendants("VersionPrefix").Select(e => e.Value.Trim()).SingleOrDefault();
        Assert.False(string.IsNullOrEmpty(prefix), "Directory.Build.props sets no VersionPrefix");
        return prefix;
    }

    private static void AssertPackage(string feed, string id, string version)
    {
        var nupkg = Path.Combine(feed, $"{id}.{version}.nupkg");
        var snupkg = Path.Combine(feed, $"{id}.{version}.snupkg");
        Assert.True(File.Exists(nupkg), $"{nupkg} was not packed ({string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))})");
        Assert.True(File.Exists(snupkg), $"{snupkg} (symbols) was not packed");

        using (var symbols = ZipFile.OpenRead(snupkg))
        {
            Assert.Contains($"lib/net10.0/{id}.pdb", symbols.Entries.Select(e => e.FullName));
        }

        using var package = ZipFile.OpenRead(nupkg);
        var entries = package.Entries.Select(e => e.FullName).ToList();
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries);
        Assert.Contains("README.md", entries);
        using (var readme = new StreamReader(package.GetEntry("README.md")!.Open()))
        {
            Assert.StartsWith($"# {id}", readme.ReadToEnd(), StringComparison.Ordinal);
        }

        using var nuspecStream = package.GetEntry($"{id}.nuspec")!.Open();
        var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        XElement? Element(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);

        Assert.Equal(id, Field("id"));
        Assert.Equal(version, Field("version"));
        Assert.Equal("README.md", Field("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id} has no description");
        Assert.False(string.IsNullOrWhiteSpace(Field("authors")), $"{id} has no authors");

        // The licence is the one Directory.Build.props declares: none until one is chosen (docs/packages.md), never a
        // licence the repository does not state.
        var license = Element("license");
        var declared = XDocument.Load(Path.Combine(Root, "Directory.Build.props")).Descendants("PackageLicenseExpression").Select(e => e.Value.Trim()).SingleOrDefault() ?? "";
        if (declared.Length == 0)
        {
            Assert.True(license is null, $"{id} declares the licence {license?.Value} but Directory.Build.props names none");
        }
        else
        {
            Assert.NotNull(license);
            Assert.Equal("expression", license.Attribute("type")?.Value);
            Assert.Equal(declared, license.Value);
        }

        // Source Link's repository metadata: the commit the package was built from (and the remote's URL when the
        // clone has one).
        var repository = Element("repository");
        Assert.True(repository is not null, $"{id}'s nuspec has no <repository> (PublishRepositoryUrl / Source Link)");
        Assert.Equal("git", repository.Attribute("type")?.Value);
        var commit = repository.Attribute("commit")?.Value ?? "";
        Assert.Matches("^[0-9a-f]{40}$", commit);
        if (GitHead() is { } head)
        {
            Assert.Equal(head, commit);
        }

        // Package dependencies: the client packages depend on each other at the same version.
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        var expected = id switch
        {
            "Conclave.Client" => "Conclave.Api",
            "Conclave.Extensions.Configuration" => "Conclave.Client",
            _ => null,
        };
        if (expected is not null)
        {
            Assert.True(dependencies.TryGetValue(expected, out var dependencyVersion), $"{id} does not depend on {expected}");
            Assert.Equal(version, dependencyVersion);
        }
    }

    private static void CopySample(string app, string version)
    {
        var sample = Path.Combine(Root, "samples", "Orders");
        Directory.CreateDirectory(app);
        foreach (var file in Directory.EnumerateFiles(sample).Where(f => Path.GetExtension(f) is ".cs" or ".json"))
        {
            File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
        }

        var project = XDocument.Load(Path.Combine(sample, "Orders.csproj"));
        var references = project.Descendants("ProjectReference").ToList();
        Assert.Equal(["Conclave.Extensions.Configuration.csproj"], references.Select(r => Path.GetFileName(r.Attribute("Include")!.Value)));
        var group = references[0].Parent!;
        references[0].Remove();
        group.Add(new XElement("PackageReference", new XAttribute("Include", "Conclave.Extensions.Configuration"), new XAttribute("Version", version)));

        // What the repository's Directory.Build.props gives the sample, a user's app states in its own project file.
        var repository = XDocument.Load(Path.Combine(Root, "Directory.Build.props"));
        var properties = project.Root!.Element("PropertyGroup")!;
        foreach (var name in new[] { "TargetFramework", "Nullable", "ImplicitUsings" })
        {
            properties.Add(new XElement(name, repository.Descendants(name).First().Value));
        }

        project.Save(Path.Combine(app, "Orders.csproj"));

        // Stop MSBuild's search for Directory.Build.* and central package versions at the app's folder.
        File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />\n");
    }

    /// <summary>
    /// Conclave.* come from the feed only; everything else from NuGet, and from this machine's packages folder first
    /// (the repository's own restore filled it) so the test does not download what the machine already has.
    /// </summary>
    private static string NuGetConfig(string feed)
    {
        var machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cache = Directory.Exists(machinePackages) ? $"""<add key="machine-packages" value="{machinePackages}" />""" : "";
        var cacheMapping = cache.Length > 0 ? """<packageSource key="machine-packages"><package pattern="*" /></packageSource>""" : "";
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="conclave-feed" value="{feed}" />
                {cache}
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="conclave-feed"><package pattern="Conclave.*" /></packageSource>
                {cacheMapping}
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """;
    }

    /// <summary>Runs the built sample against the fixture's member and reads its settings from the configuration center.</summary>
    private async Task RunAgainstMemberAsync(string app)
    {
        using var admin = await fixture.NewAppAsync(("application", "properties"));
        await admin.SetItemAsync("application", "Orders.Greeting", "Packed and configured");
        await admin.SetAndPublishAsync("application", "Orders.MaxItems", "42");

        var port = FreePorts.Take(1)[0];
        var url = $"http://127.0.0.1:{port}";
        var environment = new Dictionary<string, string>
        {
            ["Conclave__Endpoints"] = fixture.Node.Endpoint,
            ["Conclave__App"] = admin.App,
            ["Conclave__Environment"] = admin.Env,
            ["Conclave__CacheDirectory"] = Path.Combine(app, "conclave-cache"),
            ["Conclave__StartupTimeout"] = "00:00:20",
            ["Urls"] = url,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        var printed = new List<string>();
        using var process = DotnetCli.Start([Path.Combine(app, "bin", "Release", "net10.0", "Orders.dll")], app, environment, output, printed);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
            var settings = await Eventually.WaitForAsync(
                async ct => process.HasExited ? throw new InvalidOperationException($"Orders exited with {process.ExitCode}:\n{DotnetCli.Printed(printed)}") : await TryGetSettingsAsync(http, ct),
                s => s is not null,
                TimeSpan.FromSeconds(60),
                "Orders (built from the packages) serves /settings");
            Assert.Equal("Packed and configured", settings!.Value.GetProperty("greeting").GetString());
            Assert.Equal(42, settings.Value.GetProperty("maxItems").GetInt32());

            // A release published while it runs reaches it without a restart (the provider's subscription).
            await admin.SetAndPublishAsync("application", "Orders.Greeting", "Changed live");
            await Eventually.WaitForAsync(
                ct => TryGetSettingsAsync(http, ct),
                s => s?.GetProperty("greeting").GetString() == "Changed live",
                TimeSpan.FromSeconds(30),
                "Orders applies a new release");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static async Task<JsonElement?> TryGetSettingsAsync(HttpClient http, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync("/settings", cancellationToken);
            return response.StatusCode == HttpStatusCode.OK
                ? JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).RootElement.Clone()
                : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The commit checked out in the repository, or null where git or the .git folder is not there.</summary>
    private static string? GitHead()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", ["-C", Root, "rev-parse", "HEAD"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (git is null)
            {
                return null;
            }

            var head = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? head : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static string FindRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}

/// <summary>Runs <see cref="PackageTests"/> with no other test of this project beside it.</summary>
[CollectionDefinition(nameof(PackageTestsCollection), DisableParallelization = true)]
public sealed class PackageTestsCollection;

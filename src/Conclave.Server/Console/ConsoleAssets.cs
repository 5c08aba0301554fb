using System.IO.Hashing;
using System.Reflection;
using System.Text;

namespace Conclave.Server.Console;

/// <summary>
/// The web console's static files, embedded in this assembly (no files on disk, no CDN). Assets are served under
/// <c>/assets/{version}/</c>, where the version is a hash of every asset: a new build gets new URLs, so browsers
/// may cache assets forever while <c>index.html</c> is revalidated on every load.
/// </summary>
internal sealed class ConsoleAssets
{
    private const string ResourcePrefix = "console/";
    private const string VersionPlaceholder = "{{assets}}";

    private readonly Dictionary<string, ConsoleAsset> assets;

    private ConsoleAssets(Dictionary<string, ConsoleAsset> assets, ConsoleAsset index, string version)
    {
        this.assets = assets;
        Index = index;
        Version = version;
    }

    /// <summary>Hash of every asset; part of the asset URLs.</summary>
    public string Version { get; }

    /// <summary>The page, with the asset URLs filled in.</summary>
    public ConsoleAsset Index { get; }

    public IReadOnlyCollection<string> Paths => assets.Keys;

    public static ConsoleAssets Load(Assembly assembly)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[ResourcePrefix.Length..]] = copy.ToArray();
        }

        if (!files.TryGetValue("index.html", out var page))
        {
            throw new InvalidOperationException("the console's index.html is not embedded in the server assembly");
        }

        // A non-cryptographic hash names versions and ETags: they only need to change with the content, and a
        // cryptographic one would load OpenSSL into the server for nothing else (~4 MiB resident).
        var hash = new XxHash128();
        foreach (var (path, content) in files)
        {
            hash.Append(Encoding.UTF8.GetBytes(path));
            hash.Append(content);
        }

        var version = Convert.ToHexStringLower(hash.GetCurrentHash())[..12];
        var served = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (var (path, content) in files.Where(f => f.Key != "index.html"))
        {
            served[path] = Asset(path, content);
        }

        var html = Encoding.UTF8.GetString(page).Replace(VersionPlaceholder, "/assets/" + version, StringComparison.Ordinal);
        return new ConsoleAssets(served, Asset("index.html", Encoding.UTF8.GetBytes(html)), version);
    }

    public ConsoleAsset? Find(string path) => assets.GetValueOrDefault(path);

    private static ConsoleAsset Asset(string path, byte[] content) =>
        new(path, content, ContentTypeOf(path), "\"" + Convert.ToHexStringLower(XxHash128.Hash(content))[..16] + "\"");

    private static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".json" => "application/json; charset=utf-8",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}

using System.Runtime.CompilerServices;

namespace Conclave.Console.Tests;

/// <summary>
/// Base of the browser tests: a fresh browser context per test, a screenshot named after the test when it fails
/// (under the test output directory, <c>screenshots/</c>), and screenshots of the main screens for the docs.
/// </summary>
public abstract class BrowserTest(ConsoleFixture fixture, ITestOutputHelper output)
{
    /// <summary>Set to a directory (e.g. <c>$PWD/docs/img</c>) to also write the docs' screenshots there.</summary>
    public const string DocsImageVariable = "CONCLAVE_DOCS_IMG";

    protected ConsoleFixture Fixture { get; } = fixture;

    protected ITestOutputHelper Output { get; } = output;

    protected static string OutputDirectory(string name) => Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, name)).FullName;

    /// <summary>Runs <paramref name="body"/> on a new page; on failure saves <c>screenshots/{test}.png</c> and rethrows.</summary>
    protected Task InBrowserAsync(Func<IPage, Task> body, [CallerMemberName] string test = "") => InBrowserAsync(Fixture.BaseUrl, body, test);

    /// <summary>As <see cref="InBrowserAsync(Func{IPage, Task}, string)"/>, on the console of another member (<paramref name="baseUrl"/>).</summary>
    protected async Task InBrowserAsync(string baseUrl, Func<IPage, Task> body, [CallerMemberName] string test = "")
    {
        await using var context = await Fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl,
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
        });
        var page = await context.NewPageAsync();
        page.Console += (_, m) => { if (m.Type is "error" or "warning") { Output.WriteLine($"[browser {m.Type}] {m.Text}"); } };
        page.PageError += (_, e) => Output.WriteLine($"[page error] {e}");
        try
        {
            await body(page);
        }
        catch
        {
            var path = Path.Combine(OutputDirectory("screenshots"), test + ".png");
            try
            {
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
                Output.WriteLine($"screenshot of the failure: {path}");
            }
            catch (PlaywrightException e)
            {
                Output.WriteLine($"could not take a screenshot: {e.Message}");
            }

            throw;
        }
    }

    /// <summary>Saves a screenshot of a main screen (for docs/img): always in the output directory, also in $CONCLAVE_DOCS_IMG when set.</summary>
    protected static async Task ScreenAsync(IPage page, string name)
    {
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = false });
        await File.WriteAllBytesAsync(Path.Combine(OutputDirectory("screens"), name + ".png"), bytes);
        if (Environment.GetEnvironmentVariable(DocsImageVariable) is { Length: > 0 } docs)
        {
            Directory.CreateDirectory(docs);
            await File.WriteAllBytesAsync(Path.Combine(docs, name + ".png"), bytes);
        }
    }

    protected static string NewName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The page-wide message under the header (success and page errors).</summary>
    protected static ILocator Banner(IPage page) => page.Locator("#banner");

    /// <summary>A tab of the namespace page (Edit, Releases, Gray release, Delivery).</summary>
    protected static ILocator Tab(IPage page, string name) =>
        page.GetByRole(AriaRole.Navigation, new() { Name = "Namespace views" }).GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    protected static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}

namespace Conclave.Console.Tests;

/// <summary>
/// One real in-process Conclave member and one headless Chromium (Debian's, at <see cref="ChromiumPath"/>) shared
/// by the browser tests; each test gets its own browser context. Both are disposed even when start-up fails half way.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    /// <summary>Debian's chromium; Playwright's own browser download is never used.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public TestNode Node { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string BaseUrl => Node.HttpUrl;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (apt-get install chromium; ./test.sh does it)");
        }

        try
        {
            Node = await TestNode.StartInProcessAsync();
            playwright = await Playwright.CreateAsync();
            Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Headless = true });
        }
        catch
        {
            await DisposeAsync();
            throw;
        }

        // The machine may be shared with other builds: give the page room, but never sleep.
        Assertions.SetDefaultExpectTimeout(20_000);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }

    /// <summary>An HTTP client on the node's HTTP listener, acting as <paramref name="author"/>.</summary>
    public HttpClient Http(string author = "api-setup")
    {
        var http = Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        return http;
    }
}

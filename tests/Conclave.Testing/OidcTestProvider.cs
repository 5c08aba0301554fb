using System.Diagnostics;
using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>
/// A real OpenID Connect provider for tests: the npm <c>oidc-provider</c> package (tests/clients/oidc/provider.mjs,
/// versions pinned by its lockfile) run as a process on a free loopback port, with one confidential client and the
/// accounts <c>carol</c> (group <c>config-editors</c>), <c>dave</c> (<c>viewers</c>, <c>ops</c>), <c>erin</c> (none) and
/// <c>root</c>; its development login form accepts any password; RP-Initiated Logout (its end-session endpoint) unless
/// started without it. Stopped by its process id on dispose.
/// </summary>
public sealed class OidcTestProvider : IAsyncDisposable
{
    private readonly Process process;

    private OidcTestProvider(Process process, string issuer, string clientId, string clientSecret)
    {
        this.process = process;
        Issuer = issuer;
        ClientId = clientId;
        ClientSecret = clientSecret;
    }

    /// <summary>The client id every test provider registers.</summary>
    public const string ClientIdFor = "conclave-console";

    /// <summary>The client secret every test provider registers (members are started with it before the provider runs).</summary>
    public const string SecretFor = "test-client-secret-6f1c";

    /// <summary>The provider's issuer URL (<c>http://127.0.0.1:PORT</c>).</summary>
    public string Issuer { get; }

    public string ClientId { get; }

    public string ClientSecret { get; }

    /// <summary>Starts the provider with a client allowed to come back to <paramref name="redirectUris"/>; waits until it answers.</summary>
    /// <param name="alg">The ID tokens' signing algorithm: RS256 or ES256.</param>
    /// <param name="testHooks">Lets <see cref="MisbehaveAsync"/> make the token endpoint answer with bad ID tokens.</param>
    /// <param name="port">The port to listen on (see <see cref="ReservePort"/>), or 0 for any free one.</param>
    /// <param name="postLogoutRedirectUris">Where the provider may send the browser back after RP-Initiated Logout.</param>
    /// <param name="endSession">False: the provider offers no end-session endpoint (no RP-Initiated Logout).</param>
    public static async Task<OidcTestProvider> StartAsync(
        IEnumerable<string> redirectUris, ITestOutputHelper? output, string alg = "RS256", bool testHooks = false, int port = 0,
        IEnumerable<string>? postLogoutRedirectUris = null, bool endSession = true, CancellationToken cancellationToken = default)
    {
        var directory = NodeProgram.ClientDirectory("oidc");
        await NodeProgram.EnsurePackagesAsync(directory, output, cancellationToken);
        var clientId = ClientIdFor;
        var clientSecret = SecretFor;
        var info = new ProcessStartInfo(NodeProgram.Find("node"))
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "provider.mjs", "--client-id", clientId, "--client-secret", clientSecret, "--alg", alg, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var uri in redirectUris)
        {
            info.ArgumentList.Add("--redirect-uri");
            info.ArgumentList.Add(uri);
        }

        foreach (var uri in postLogoutRedirectUris ?? [])
        {
            info.ArgumentList.Add("--post-logout-redirect-uri");
            info.ArgumentList.Add(uri);
        }

        if (!endSession)
        {
            info.ArgumentList.Add("--no-end-session");
        }

        if (testHooks)
        {
            info.ArgumentList.Add("--test-hooks");
        }

        // Node prints the ready line within about 2 s here. Once in CI it printed nothing at all for 30 s; what the
        // process was doing then is logged, and a second process gets one more, longer chance.
        try
        {
            return await StartProcessAsync(info, output, clientId, clientSecret, TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (TimeoutException)
        {
            TestOutput.TryWriteLine(output, "[oidc] no ready line in 30 s; starting it once more");
            return await StartProcessAsync(info, output, clientId, clientSecret, TimeSpan.FromSeconds(60), cancellationToken);
        }
    }

    private static async Task<OidcTestProvider> StartProcessAsync(
        ProcessStartInfo info, ITestOutputHelper? output, string clientId, string clientSecret, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("the OIDC provider exited before it was ready"));
                return;
            }

            TestOutput.TryWriteLine(output, "[oidc] " + e.Data);
            const string marker = "oidc provider ready at ";
            if (e.Data.StartsWith(marker, StringComparison.Ordinal))
            {
                ready.TrySetResult(e.Data[marker.Length..].Split(' ')[0]);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                TestOutput.TryWriteLine(output, "[oidc stderr] " + e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var issuer = await ready.Task.WaitAsync(deadline, cancellationToken);
            return new OidcTestProvider(process, issuer, clientId, clientSecret);
        }
        catch (Exception e)
        {
            if (e is TimeoutException)
            {
                TestOutput.TryWriteLine(output, $"[oidc] pid {process.Id} not ready after {deadline.TotalSeconds:F0} s: {Describe(process)}");
            }

            Stop(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Whether the process still runs, and if so its scheduler state and CPU time (from /proc).</summary>
    private static string Describe(Process process)
    {
        try
        {
            if (process.HasExited)
            {
                return $"exited with {process.ExitCode}";
            }

            var stat = File.ReadAllText($"/proc/{process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return $"running, state {fields[0]}, user {fields[11]} and system {fields[12]} clock ticks";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            return $"state unknown ({e.Message})";
        }
    }

    /// <summary>
    /// A free port for a provider whose issuer URL (<see cref="IssuerAt"/>) members must be started with before it runs
    /// (the provider in turn needs the members' callback URLs).
    /// </summary>
    public static int ReservePort() => FreePorts.Take(1)[0];

    /// <summary>The issuer URL of a provider started on <paramref name="port"/>.</summary>
    public static string IssuerAt(int port) => $"http://127.0.0.1:{port}";

    /// <summary>
    /// Makes the token endpoint answer the next code exchanges with a bad ID token: <c>signature</c>, <c>payload</c>,
    /// <c>audience</c>, <c>expired</c>, <c>nonce</c>, <c>issuer</c>, <c>none</c>; <c>off</c> for good tokens again.
    /// </summary>
    public async Task MisbehaveAsync(string mode)
    {
        using var http = new HttpClient();
        (await http.PostAsync($"{Issuer}/__test/misbehave?mode={Uri.EscapeDataString(mode)}", null)).EnsureSuccessStatusCode();
    }

    /// <summary>Writes the client secret to a file (as an operator would for <c>--oidc-client-secret-file</c>).</summary>
    public string WriteSecretFile(string directory)
    {
        var path = Path.Combine(directory, "oidc-client-secret");
        File.WriteAllText(path, ClientSecret + "\n");
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        Stop(process);
        await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        process.Dispose();
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}

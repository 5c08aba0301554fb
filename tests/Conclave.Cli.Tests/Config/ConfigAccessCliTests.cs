using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Server.Security.Auth;

namespace Conclave.Cli.Tests.Config;

/// <summary>
/// The config center's permissions through the real <c>conclave</c> CLI as a user meets them with auth enabled (ADR
/// 0015): <c>conclave login</c> keeps a token readable by its owner only and the config commands use it; an owner
/// creates an app and grants edit to a role; a user of that role edits (<c>--user</c>), another user is refused with a
/// 403 that names the permission; no sign-in is a 401; the audit names the signed-in user whatever <c>--author</c>
/// claims; <c>conclave logout</c> forgets the token.
/// </summary>
public sealed class ConfigAccessCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory home = TempDirectory.Create("conclave-cli-home-");

    public void Dispose() => home.Dispose();

    /// <summary>Runs the real CLI (<c>conclave ARGS</c>) with its own config directory and <paramref name="stdin"/>.</summary>
    private async Task<(int ExitCode, string Out, string Error)> ConclaveAsync(string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost.NativeServer ?? DotnetHost.Muxer)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (DotnetHost.NativeServer is null)
        {
            start.ArgumentList.Add(DotnetHost.ConclaveDll);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["XDG_CONFIG_HOME"] = home.Path;
        start.Environment.Remove("CONCLAVE_TOKEN");
        using var process = Process.Start(start)!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.StandardInput.WriteAsync(stdin ?? "");
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            var result = (process.ExitCode, await stdout, await stderr);
            output.WriteLine($"conclave {string.Join(' ', args)} -> {result.ExitCode}\n{result.Item2}{result.Item3}");
            return result;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Login_grants_and_refusals_work_from_the_command_line()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add olivia:oliviapw", "user add ed:edpw", "user add vic:vicpw", "role add editors", "user grant-role ed editors", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        var api = node.HttpUrl;

        // Not signed in: 401, saying so.
        var anonymous = await ConclaveAsync(null, "config", "app", "list", "--api", api);
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("401", anonymous.Error, StringComparison.Ordinal);

        // conclave login keeps the token, readable by its owner only; the config commands use it.
        var login = await ConclaveAsync("oliviapw\n", "login", "--api", api, "--user", "olivia", "--password-stdin");
        Assert.True(login.ExitCode == 0, login.Error);
        var session = Path.Combine(home.Path, "conclave", "session.json");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(session));
        }

        Assert.Contains("\"user\":\"olivia\"", await File.ReadAllTextAsync(session), StringComparison.Ordinal);

        foreach (var step in new[]
        {
            "config app create shop --author mallory",
            "config env create PRO --app shop",
            "config ns create application --format properties --app shop --env PRO",
            "config access grant role:editors edit --app shop --env PRO --ns application",
        })
        {
            var run = await ConclaveAsync(null, [.. step.Split(' '), "--api", api]);
            Assert.True(run.ExitCode == 0, $"{step}: {run.Error}");
        }

        var shown = await ConclaveAsync(null, "config", "access", "show", "--app", "shop", "--api", api);
        Assert.Contains("owner olivia", shown.Out, StringComparison.Ordinal);
        Assert.Contains("role:editors", shown.Out, StringComparison.Ordinal);

        // ed (role editors) edits with --user; vic may not, and the refusal names the permission.
        var edited = await ConclaveAsync(null, "config", "item", "set", "port", "8080", "--app", "shop", "--env", "PRO", "--ns", "application", "--user", "ed:edpw", "--api", api);
        Assert.True(edited.ExitCode == 0, edited.Error);
        var refused = await ConclaveAsync(null, "config", "item", "set", "port", "1", "--app", "shop", "--env", "PRO", "--ns", "application", "--user", "vic:vicpw", "--api", api);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("403 permission denied", refused.Error, StringComparison.Ordinal);
        Assert.Contains("'edit' permission", refused.Error, StringComparison.Ordinal);
        var publish = await ConclaveAsync(null, "config", "release", "publish", "--app", "shop", "--env", "PRO", "--ns", "application", "--user", "ed:edpw", "--api", api);
        Assert.Equal(1, publish.ExitCode);
        Assert.Contains("'release' permission", publish.Error, StringComparison.Ordinal);

        // The audit names who was signed in, not what --author claimed; the refusals are there too.
        using var http = new HttpClient { BaseAddress = new Uri(api) };
        using var signIn = await http.PostAsJsonAsync("/api/v1/session", new { name = "root", password = "rootpw" });
        var token = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var audit = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/v1/apps/shop/audit", UriKind.Relative))).RootElement.EnumerateArray().ToList();
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "app.create" && e.GetProperty("author").GetString() == "olivia");
        Assert.DoesNotContain(audit, e => e.GetProperty("author").GetString() == "mallory");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "denied" && e.GetProperty("author").GetString() == "vic");
        Assert.Contains(audit, e => e.GetProperty("action").GetString() == "item.set" && e.GetProperty("author").GetString() == "ed");

        // Root keeps the audit 30 days (the app creators stay as they were) and exports it as JSON lines.
        var settings = await ConclaveAsync(null, "config", "access", "settings", "--audit-retention-days", "30", "--user", "root:rootpw", "--api", api);
        Assert.True(settings.ExitCode == 0, settings.Error);
        Assert.Contains("app creators: every signed-in user; audit kept 30 days", settings.Out, StringComparison.Ordinal);
        var exported = await ConclaveAsync(null, "config", "audit", "--jsonl", "--app", "shop", "--user", "root:rootpw", "--api", api);
        Assert.True(exported.ExitCode == 0, exported.Error);
        var actions = exported.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("action").GetString()).ToList();
        Assert.Equal("app.create", actions[0]);
        Assert.Contains("denied", actions);
        var byEd = await ConclaveAsync(null, "config", "audit", "--by", "ed", "--user", "root:rootpw", "--api", api);
        Assert.Contains("port: (none) -> 8080", byEd.Out, StringComparison.Ordinal);

        var logout = await ConclaveAsync(null, "logout");
        Assert.Equal(0, logout.ExitCode);
        Assert.False(File.Exists(session));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/v1/apps", UriKind.Relative))).StatusCode);
    }
}

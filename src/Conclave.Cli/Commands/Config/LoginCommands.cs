using System.CommandLine;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// <c>conclave login</c> and <c>conclave logout</c>: sign in to a member's HTTP API once and keep the token for the
/// configuration commands (<see cref="ConfigSession"/>, 0600 in the user's config directory).
/// </summary>
internal static class LoginCommands
{
    public static IEnumerable<Command> Create()
    {
        var options = new ConfigOptions();
        var login = new Command("login", "Sign in to a member's HTTP API and keep the token for `conclave config` (auth must be enabled).");
        var user = new Option<string>("--user") { Description = "The user name (etcd's auth store).", Required = true };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (one line) instead of asking." };
        login.Options.Add(options.Api);
        login.Options.Add(user);
        login.Options.Add(passwordStdin);
        login.Options.Add(options.CaCert);
        login.Options.Add(options.Cert);
        login.Options.Add(options.Key);
        login.Options.Add(options.Timeout);
        login.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var (stdout, stderr) = (parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
            try
            {
                var name = parse.GetRequiredValue(user);
                using var api = new ConfigApi(parse.GetRequiredValue(options.Api), name, TimeSpan.FromSeconds(parse.GetValue(options.Timeout)), parse.GetValue(options.CaCert), parse.GetValue(options.Cert), parse.GetValue(options.Key));
                var password = parse.GetValue(passwordStdin)
                    ? await Console.In.ReadLineAsync(cancellationToken) ?? throw new ArgumentException("--password-stdin: no password on standard input")
                    : PasswordPrompt.Read($"Password for {name}: ", stderr);
                var token = await api.SignInAsync(name, password, cancellationToken);
                new ConfigSession(api.BaseUrl, name, token).Save();
                await stdout.WriteLineAsync($"Signed in to {api.BaseUrl} as {name}; the token is kept in {ConfigSession.FilePath} (readable by you only). It lasts the member's token TTL while unused; sign in again when a command answers 401.");
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ConfigRunner.Canceled;
            }
            catch (Exception e) when (e is ConfigApiException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"Error: {e.Message}");
                return ConfigRunner.Failure;
            }
        });

        var logout = new Command("logout", "Forget the token `conclave login` kept.");
        logout.SetAction(async (ParseResult parse, CancellationToken _) =>
        {
            var removed = ConfigSession.Delete();
            await parse.InvocationConfiguration.Output.WriteLineAsync(removed ? $"Signed out: removed {ConfigSession.FilePath}." : "Not signed in: no session was kept.");
            return 0;
        });

        return [login, logout];
    }
}

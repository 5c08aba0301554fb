using System.CommandLine;

namespace Conclave.Cli.Commands.Config;

/// <summary>Runs a <c>conclave config</c> command: creates the API client, prints refusals as one line on stderr, sets the exit code.</summary>
internal static class ConfigRunner
{
    /// <summary>
    /// Signs the API client in, if the caller gave a way to: <c>--user</c> (a sign-in now), <c>--token</c> or
    /// <c>$CONCLAVE_TOKEN</c>, else the session <c>conclave login</c> kept for this same API. None: the requests go
    /// unsigned (fine while auth is disabled; refused with 401 otherwise).
    /// </summary>
    public static async Task SignInAsync(ParseResult parse, ConfigOptions options, ConfigApi api, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (parse.GetValue(options.User) is { Length: > 0 } user)
        {
            var colon = user.IndexOf(':', StringComparison.Ordinal);
            var (name, password) = colon < 0 ? (user, PasswordPrompt.Read($"Password for {user}: ", stderr)) : (user[..colon], user[(colon + 1)..]);
            api.UseToken(await api.SignInAsync(name, password, cancellationToken));
        }
        else if (parse.GetValue(options.Token) is { Length: > 0 } token)
        {
            api.UseToken(token);
        }
        else if (ConfigSession.Load() is { } session && ConfigSession.SameApi(session.Api, api.BaseUrl))
        {
            api.UseToken(session.Token);
        }
    }

    public const int Failure = 1;
    public const int Canceled = 130;

    public static void SetConfigAction(this Command command, ConfigOptions options, Func<ConfigContext, Task<int>> action)
    {
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var timeout = parse.GetValue(options.Timeout);
                if (timeout <= 0)
                {
                    throw new ArgumentException("--timeout must be a positive number of seconds.");
                }

                var author = parse.GetValue(options.Author);
                if (string.IsNullOrWhiteSpace(author))
                {
                    throw new ArgumentException("--author is empty: name who makes the change (or set CONCLAVE_AUTHOR).");
                }

                using var api = new ConfigApi(parse.GetRequiredValue(options.Api), author, TimeSpan.FromSeconds(timeout), parse.GetValue(options.CaCert), parse.GetValue(options.Cert), parse.GetValue(options.Key));
                await SignInAsync(parse, options, api, stderr, cancellationToken);
                var context = new ConfigContext(parse, options, api, parse.GetValue(options.Output) == "json", parse.InvocationConfiguration.Output, stderr, cancellationToken);
                return await action(context);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Canceled;
            }
            catch (Exception e) when (e is ConfigApiException or ArgumentException or IOException or FormatException or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"Error: {e.Message}");
                return Failure;
            }
        });
    }
}

using System.CommandLine;

namespace Conclave.Cli.Commands.Config;

/// <summary>Runs a <c>conclave config</c> command: creates the API client, prints refusals as one line on stderr, sets the exit code.</summary>
internal static class ConfigRunner
{
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

                using var api = new ConfigApi(parse.GetRequiredValue(options.Api), author, TimeSpan.FromSeconds(timeout));
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

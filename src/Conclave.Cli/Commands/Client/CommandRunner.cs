using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>Runs a client command: creates the client, prints failures as one line on stderr, sets the exit code.</summary>
internal static class CommandRunner
{
    public const int Failure = 1;
    public const int Canceled = 130;

    public static void SetClientAction(
        this Command command,
        ConnectionOptions connection,
        Func<CommandContext, Task<int>> action)
    {
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                await using var client = connection.CreateClient(parse);
                var context = new CommandContext(parse, client, ConnectionOptions.ParseOutput(parse.GetValue(connection.Output)), parse.InvocationConfiguration.Output, stderr, cancellationToken);
                return await action(context);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Canceled;
            }
            catch (Exception e) when (e is ConclaveException or ArgumentException or FormatException or InvalidOperationException)
            {
                await stderr.WriteLineAsync($"Error: {Describe(e)}");
                return Failure;
            }
        });
    }

    public static string Describe(Exception e) => e switch
    {
        EndpointUnavailableException u => $"{u.Endpoint} is unavailable: {u.ServerMessage}",
        ConclaveException { ServerMessage: { Length: > 0 } server } c when !c.Message.Contains(server, StringComparison.Ordinal) => $"{c.Message} ({server})",
        _ => e.Message,
    };
}

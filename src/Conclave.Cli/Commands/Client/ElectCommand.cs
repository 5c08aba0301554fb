using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>
/// <c>conclave elect NAME [PROPOSAL] [-l|--listen]</c>: etcdctl's elect. With a proposal it campaigns, prints the
/// leader key and value once elected and leads until Ctrl-C (then resigns); with <c>-l</c> it prints every
/// leader as it changes.
/// </summary>
internal static class ElectCommand
{
    public static Command Create()
    {
        var connection = new ConnectionOptions();
        var name = new Argument<string>("NAME") { Description = "The election's name (a key prefix)." };
        var proposal = new Argument<string?>("PROPOSAL") { Description = "The value to announce once elected.", Arity = ArgumentArity.ZeroOrOne };
        var listen = new Option<bool>("--listen", "-l") { Description = "Observe: print the leader, and every new leader or value, until Ctrl-C." };
        var ttl = new Option<long>("--ttl") { Description = "TTL in seconds of the session lease: how soon leadership passes on if this process dies.", DefaultValueFactory = _ => 60 };
        var command = new Command("elect", "Campaign in an election (and lead until Ctrl-C), or observe it with -l.") { name, proposal, listen, ttl };
        connection.AddTo(command);
        command.SetClientAction(connection, async context =>
        {
            using var signals = TerminationSignals.Listen(context.CancellationToken);
            context = context with { CancellationToken = signals.Token };
            var parse = context.Parse;
            var election = parse.GetRequiredValue(name);
            var value = parse.GetValue(proposal);
            if (parse.GetValue(listen))
            {
                return await ObserveAsync(context, election);
            }

            if (value is null)
            {
                throw new ArgumentException("elect needs a PROPOSAL to campaign with, or -l to observe.");
            }

            var seconds = parse.GetValue(ttl);
            if (seconds <= 0)
            {
                throw new ArgumentException($"--ttl must be a positive number of seconds, got {seconds}.");
            }

            await using var session = await context.Client.CreateSessionAsync(seconds, context.CancellationToken);
            await using var leadership = await session.CampaignAsync(election, value, context.CancellationToken);
            await PrintAsync(context, leadership.Key, leadership.Value, leadership.FencingToken);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, leadership.LostToken);
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.Client.Options.TimeProvider, either.Token);
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
            {
                // Ctrl-C: resign on the way out.
                return 0;
            }
            catch (OperationCanceledException)
            {
                await context.Error.WriteLineAsync($"Error: lost the leadership of {election} (the session's lease expired or was revoked, or the key was deleted).");
                return CommandRunner.Failure;
            }

            return 0;
        });
        return command;
    }

    private static async Task<int> ObserveAsync(CommandContext context, string election)
    {
        try
        {
            await foreach (var leader in context.Client.ObserveAsync(election, context.CancellationToken))
            {
                await PrintAsync(context, leader.Key, leader.Value, leader.CreateRevision);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // Ctrl-C is how observing ends.
        }

        return 0;
    }

    private static async Task PrintAsync(CommandContext context, Google.Protobuf.ByteString key, Google.Protobuf.ByteString value, long fencingToken)
    {
        await context.Out.WriteAsync(context.Format switch
        {
            OutputFormat.Json => JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("key", key.ToStringUtf8());
                json.WriteString("value", value.ToStringUtf8());
                json.WriteNumber("fencing_token", fencingToken);
                json.WriteEndObject();
            }) + "\n",
            _ => $"{key.ToStringUtf8()}\n{value.ToStringUtf8()}\n",
        });
        await context.Out.FlushAsync(CancellationToken.None);
    }
}

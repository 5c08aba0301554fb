using System.CommandLine;
using System.Globalization;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary><c>conclave lease grant|revoke|keep-alive|ttl|list</c>: etcdctl's lease commands (IDs in hex).</summary>
internal static class LeaseCommands
{
    public static Command Create()
    {
        var connection = new ConnectionOptions();
        var lease = new Command("lease", "Grant, revoke, renew and inspect leases (IDs are hexadecimal, as etcdctl prints them).");
        connection.AddTo(lease);
        lease.Subcommands.Add(Grant(connection));
        lease.Subcommands.Add(Revoke(connection));
        lease.Subcommands.Add(KeepAlive(connection));
        lease.Subcommands.Add(TimeToLive(connection));
        lease.Subcommands.Add(List(connection));
        return lease;
    }

    private static Command Grant(ConnectionOptions connection)
    {
        var ttl = new Argument<long>("TTL") { Description = "Time to live in seconds (raised to the server's minimum, 2 s)." };
        var command = new Command("grant", "Grant a lease; prints its ID.") { ttl };
        command.SetClientAction(connection, async context =>
        {
            var seconds = context.Parse.GetValue(ttl);
            if (seconds <= 0)
            {
                throw new ArgumentException($"TTL must be a positive number of seconds, got {seconds}.");
            }

            var result = await context.Client.LeaseGrantAsync(seconds, cancellationToken: context.CancellationToken);
            await context.Out.WriteAsync(LeaseOutput.Grant(result, context.Format));
            return 0;
        });
        return command;
    }

    private static Command Revoke(ConnectionOptions connection)
    {
        var id = IdArgument();
        var command = new Command("revoke", "Revoke a lease; the keys attached to it are deleted.") { id };
        command.SetClientAction(connection, async context =>
        {
            var lease = ParseId(context.Parse.GetValue(id));
            var result = await context.Client.LeaseRevokeAsync(lease, context.CancellationToken);
            await context.Out.WriteAsync(LeaseOutput.Revoke(lease, result, context.Format));
            return 0;
        });
        return command;
    }

    private static Command KeepAlive(ConnectionOptions connection)
    {
        var id = IdArgument();
        var once = new Option<bool>("--once") { Description = "Renew once and exit." };
        var command = new Command("keep-alive", "Keep a lease alive (renewing at a third of its TTL) until Ctrl-C, printing every renewal.") { id, once };
        command.Aliases.Add("keepalive");
        command.SetClientAction(connection, async context =>
        {
            var lease = ParseId(context.Parse.GetValue(id));
            if (context.Parse.GetValue(once))
            {
                var renewed = await context.Client.KeepAliveOnceAsync(lease, context.CancellationToken);
                await context.Out.WriteAsync(LeaseOutput.KeepAlive(renewed, context.Format));
                return 0;
            }

            using var signals = TerminationSignals.Listen(context.CancellationToken);
            context = context with { CancellationToken = signals.Token };
            try
            {
                await foreach (var answer in context.Client.KeepAliveAsync(lease, context.CancellationToken))
                {
                    await context.Out.WriteAsync(LeaseOutput.KeepAlive(answer, context.Format));
                    await context.Out.FlushAsync(context.CancellationToken);
                }
            }
            catch (LeaseLostException e) when (e.Reason == LeaseLostReason.NotFound)
            {
                // etcdctl's way to end: the lease is gone, which is not an error of this command.
                await context.Out.WriteAsync(LeaseOutput.KeepAliveEnded(lease, context.Format));
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
            {
                // Ctrl-C.
            }

            return 0;
        });
        return command;
    }

    private static Command TimeToLive(ConnectionOptions connection)
    {
        var id = IdArgument();
        var keys = new Option<bool>("--keys") { Description = "Also list the keys attached to the lease." };
        var command = new Command("ttl", "Print a lease's granted and remaining TTL.") { id, keys };
        command.Aliases.Add("timetolive");
        command.SetClientAction(connection, async context =>
        {
            var withKeys = context.Parse.GetValue(keys);
            var result = await context.Client.LeaseTimeToLiveAsync(ParseId(context.Parse.GetValue(id)), withKeys, context.CancellationToken);
            await context.Out.WriteAsync(LeaseOutput.TimeToLive(result, withKeys, context.Format));
            return 0;
        });
        return command;
    }

    private static Command List(ConnectionOptions connection)
    {
        var command = new Command("list", "List every lease.");
        command.SetClientAction(connection, async context =>
        {
            var leases = await context.Client.LeasesAsync(context.CancellationToken);
            await context.Out.WriteAsync(LeaseOutput.List(leases, context.Format));
            return 0;
        });
        return command;
    }

    private static Argument<string> IdArgument() => new("ID") { Description = "Lease ID in hexadecimal (as etcdctl and 'lease grant' print it)." };

    private static long ParseId(string? text) =>
        LeaseId.TryParse(text, out var id) ? id : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"ID must be a hexadecimal lease ID such as 694d5765fc71500b, got '{text}'."));
}

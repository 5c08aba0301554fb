using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary><c>conclave endpoint status</c> and <c>conclave member list</c>.</summary>
internal static class ClusterCommands
{
    public static Command Endpoint()
    {
        var connection = new ConnectionOptions();
        var endpoint = new Command("endpoint", "Query the endpoints given with --endpoints.");
        connection.AddTo(endpoint);

        var status = new Command("status", "Print the status of every endpoint (version, size, leader, raft index and term, errors).");
        status.SetClientAction(connection, async context =>
        {
            var statuses = new List<EndpointStatus>();
            var failed = false;
            foreach (var address in context.Client.Endpoints)
            {
                try
                {
                    statuses.Add(await context.Client.StatusAsync(address, context.CancellationToken));
                }
                catch (ConclaveException e)
                {
                    // One dead member must not hide the others.
                    failed = true;
                    var description = CommandRunner.Describe(e);
                    await context.Error.WriteLineAsync(description.Contains(address, StringComparison.Ordinal) ? $"Error: {description}" : $"Error: {address}: {description}");
                }
            }

            await context.Out.WriteAsync(ClusterOutput.Status(statuses, context.Format));
            return failed ? CommandRunner.Failure : 0;
        });
        endpoint.Subcommands.Add(status);
        return endpoint;
    }

    public static Command Member()
    {
        var connection = new ConnectionOptions();
        var member = new Command("member", "Query cluster membership.");
        connection.AddTo(member);

        var list = new Command("list", "List the members of the cluster.");
        list.SetClientAction(connection, async context =>
        {
            var members = await context.Client.MemberListAsync(context.CancellationToken);
            await context.Out.WriteAsync(ClusterOutput.Members(members, context.Format));
            return 0;
        });
        member.Subcommands.Add(list);
        return member;
    }
}

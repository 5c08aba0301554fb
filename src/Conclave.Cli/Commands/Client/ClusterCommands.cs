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
        var cluster = new Option<bool>("--cluster")
        {
            Description = "Ask the cluster for its members and print the status of every member, not only the given endpoints.",
        };
        status.Options.Add(cluster);
        status.SetClientAction(connection, async context =>
        {
            var statuses = new List<EndpointStatus>();
            var failed = false;
            var client = context.Client;
            ConclaveClient? members = null;
            if (context.Parse.GetValue(cluster))
            {
                var urls = (await client.MemberListAsync(context.CancellationToken))
                    .Where(static m => m.ClientUrls.Count > 0)
                    .Select(static m => m.ClientUrls[0])
                    .ToList();
                members = new ConclaveClient(new ConclaveClientOptions { Endpoints = urls, MaxAttempts = 1 });
                client = members;
            }

            await using var owned = members;
            foreach (var address in client.Endpoints)
            {
                try
                {
                    statuses.Add(await client.StatusAsync(address, context.CancellationToken));
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

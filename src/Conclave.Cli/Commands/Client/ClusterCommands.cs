using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary><c>conclave endpoint status</c> and <c>conclave member list|add|remove|promote</c>.</summary>
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
                members = new ConclaveClient(client.Options with { Endpoints = urls, MaxAttempts = 1 });
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
        var member = new Command("member", "List and change the cluster's members.");
        connection.AddTo(member);

        var list = new Command("list", "List the members of the cluster.");
        list.SetClientAction(connection, async context =>
        {
            var members = await context.Client.MemberListAsync(context.CancellationToken);
            await context.Out.WriteAsync(ClusterOutput.Members(members, context.Format));
            return 0;
        });
        member.Subcommands.Add(list);

        var add = new Command("add", "Add a member (it joins when started with --initial-cluster-state existing).");
        var name = new Argument<string>("name") { Description = "The new member's name (--name when it starts)." };
        var peerUrls = new Option<string>("--peer-urls") { Description = "The new member's peer URL.", Required = true };
        var learner = new Option<bool>("--learner") { Description = "Add a learner: it follows the log without voting until promoted." };
        add.Arguments.Add(name);
        add.Options.Add(peerUrls);
        add.Options.Add(learner);
        add.SetClientAction(connection, async context =>
        {
            var result = await context.Client.MemberAddAsync(context.Parse.GetValue(peerUrls)!, context.Parse.GetValue(learner), context.CancellationToken);
            await context.Out.WriteAsync(ClusterOutput.MemberAdded(result, context.Parse.GetValue(name)!, context.Format));
            return 0;
        });
        member.Subcommands.Add(add);

        member.Subcommands.Add(ByIdCommand(connection, "remove", "Remove a member (it stops), a learner, or a member added but not started.",
            "removed", static (client, id, ct) => client.MemberRemoveAsync(id, ct)));
        member.Subcommands.Add(ByIdCommand(connection, "promote", "Promote a learner that is in sync with the leader to a voting member.",
            "promoted", static (client, id, ct) => client.MemberPromoteAsync(id, ct)));
        return member;
    }

    /// <summary>A <c>member</c> subcommand that takes a member id and answers the member list after the change.</summary>
    private static Command ByIdCommand(
        ConnectionOptions connection,
        string name,
        string description,
        string done,
        Func<ConclaveClient, ulong, CancellationToken, ValueTask<IReadOnlyList<MemberInfo>>> change)
    {
        var command = new Command(name, description);
        var idArgument = new Argument<string>("id") { Description = "The member's id (hex, as member list prints it)." };
        command.Arguments.Add(idArgument);
        command.SetClientAction(connection, async context =>
        {
            var id = ClusterOutput.ParseId(context.Parse.GetValue(idArgument)!);
            var members = await change(context.Client, id, context.CancellationToken);
            await context.Out.WriteAsync(ClusterOutput.MemberChanged(done, id, members, context.Format));
            return 0;
        });
        return command;
    }
}

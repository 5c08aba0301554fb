using System.CommandLine;
using Conclave.Cli.Commands;

// Before anything builds a regular expression: the process-wide match time limit (docs/security.md#limits).
Conclave.Server.Security.RegexTimeLimit.Apply();

var root = new RootCommand("Conclave: a strongly consistent configuration service that speaks the etcd v3 protocol.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ClusterUpCommand.Create());
root.Subcommands.Add(Conclave.Cli.Commands.Certs.CertsCommand.Create());
root.Subcommands.Add(Conclave.Cli.Commands.Snapshot.SnapshotCommands.Create());
foreach (var command in Conclave.Cli.Commands.Config.LoginCommands.Create())
{
    root.Subcommands.Add(command);
}

foreach (var command in Conclave.Cli.Commands.Client.ClientCommands.Create())
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();

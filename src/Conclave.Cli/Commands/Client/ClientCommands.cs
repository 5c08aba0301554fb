using System.CommandLine;

namespace Conclave.Cli.Commands.Client;

/// <summary>The client half of the <c>conclave</c> executable: <c>kv</c>, <c>lease</c>, <c>lock</c>, <c>elect</c>, <c>endpoint</c>, <c>member</c> and <c>config</c>.</summary>
public static class ClientCommands
{
    /// <summary>Creates the client command groups, to be added to the root command.</summary>
    /// <returns>The <c>kv</c>, <c>lease</c>, <c>lock</c>, <c>elect</c>, <c>endpoint</c>, <c>member</c> and <c>config</c> commands.</returns>
    public static IEnumerable<Command> Create() =>
    [
        KvCommands.Create(),
        LeaseCommands.Create(),
        LockCommand.Create(),
        ElectCommand.Create(),
        ClusterCommands.Endpoint(),
        ClusterCommands.Member(),
        Config.ConfigCommands.Create(),
    ];
}

using System.CommandLine;

namespace Conclave.Cli.Commands;

internal static class ClientCommandsHook
{
    public static IEnumerable<Command> Create() => [];
}

using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>What a client command's action works with.</summary>
internal sealed record CommandContext(
    ParseResult Parse,
    ConclaveClient Client,
    OutputFormat Format,
    TextWriter Out,
    TextWriter Error,
    CancellationToken CancellationToken);

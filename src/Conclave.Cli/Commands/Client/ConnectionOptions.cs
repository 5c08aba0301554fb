using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>
/// The options every client command takes (<c>--endpoints</c>, <c>-o|--output</c>, timeouts). Declared once per
/// command group as recursive options, so they may be given before or after the subcommand.
/// </summary>
internal sealed class ConnectionOptions
{
    public const string DefaultEndpoints = "127.0.0.1:2379";

    public Option<string> Endpoints { get; } = new("--endpoints")
    {
        Description = "Comma-separated client URLs of the cluster members (host:port, http://host:port or https://host:port).",
        DefaultValueFactory = _ => DefaultEndpoints,
        Recursive = true,
    };

    public Option<string> Output { get; } = CreateOutput();

    public Option<string?> CaCert { get; } = new("--cacert")
    {
        Description = "For https:// endpoints: the CA certificates (PEM) the members' certificates must chain to.",
        Recursive = true,
    };

    public Option<string?> Cert { get; } = new("--cert")
    {
        Description = "A client certificate (PEM) for members that require one (--client-cert-auth).",
        Recursive = true,
    };

    public Option<string?> Key { get; } = new("--key")
    {
        Description = "The private key (PEM) of --cert.",
        Recursive = true,
    };

    public Option<double> DialTimeout { get; } = new("--dial-timeout")
    {
        Description = "Seconds allowed to open a connection to one endpoint.",
        DefaultValueFactory = _ => 2,
        Recursive = true,
    };

    public Option<double> CommandTimeout { get; } = new("--command-timeout")
    {
        Description = "Seconds allowed for one request (not for watch).",
        DefaultValueFactory = _ => 5,
        Recursive = true,
    };

    public static OutputFormat ParseOutput(string? value) => value switch
    {
        "json" => OutputFormat.Json,
        "table" => OutputFormat.Table,
        _ => OutputFormat.Simple,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Endpoints);
        command.Options.Add(Output);
        command.Options.Add(DialTimeout);
        command.Options.Add(CommandTimeout);
        command.Options.Add(CaCert);
        command.Options.Add(Cert);
        command.Options.Add(Key);
    }

    public static IReadOnlyList<string> ParseEndpoints(string? value)
    {
        var endpoints = (value ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (endpoints.Length == 0)
        {
            throw new ArgumentException("--endpoints must name at least one endpoint, e.g. 127.0.0.1:2379.");
        }

        return endpoints;
    }

    private static Option<string> CreateOutput()
    {
        var output = new Option<string>("--output", "-o", "-w")
        {
            Description = "Output format: simple (etcdctl's), json (one line per result) or table.",
            DefaultValueFactory = _ => "simple",
            Recursive = true,
        };
        output.AcceptOnlyFromAmong("simple", "json", "table");
        return output;
    }

    public ConclaveClient CreateClient(ParseResult parse)
    {
        var dial = parse.GetValue(DialTimeout);
        var command = parse.GetValue(CommandTimeout);
        if (dial <= 0 || command <= 0)
        {
            throw new ArgumentException("--dial-timeout and --command-timeout must be positive numbers of seconds.");
        }

        return new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = ParseEndpoints(parse.GetValue(Endpoints)),
            DialTimeout = TimeSpan.FromSeconds(dial),
            RequestTimeout = TimeSpan.FromSeconds(command),
            MaxAttempts = 3,
            CaFile = parse.GetValue(CaCert),
            CertFile = parse.GetValue(Cert),
            KeyFile = parse.GetValue(Key),
        });
    }
}

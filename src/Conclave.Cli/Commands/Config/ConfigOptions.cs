using System.CommandLine;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// The options of every <c>conclave config</c> command, declared once on the group as recursive options:
/// where the API is (<c>--api</c>), who makes changes (<c>--author</c>), the output, and the target app/env/namespace.
/// </summary>
internal sealed class ConfigOptions
{
    public const string DefaultApi = "http://127.0.0.1:2381";

    public Option<string> Api { get; } = new("--api")
    {
        Description = $"URL of a member's HTTP listener serving /api/v1 (default: $CONCLAVE_API or {DefaultApi}).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CONCLAVE_API") is { Length: > 0 } api ? api : DefaultApi,
        Recursive = true,
    };

    public Option<string> Author { get; } = new("--author")
    {
        Description = "Who makes the change, as the audit records it (sent as X-Conclave-Author; default: $CONCLAVE_AUTHOR or the user name).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CONCLAVE_AUTHOR") is { Length: > 0 } author ? author : Environment.UserName,
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "A token to sign in with while auth is enabled (default: $CONCLAVE_TOKEN, else the one `conclave login` kept for this --api).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CONCLAVE_TOKEN") is { Length: > 0 } token ? token : null,
        Recursive = true,
    };

    public Option<string?> User { get; } = new("--user")
    {
        Description = "Sign in as NAME[:PASSWORD] for this command (the password is asked for when left out), as etcdctl's --user.",
        Recursive = true,
    };

    public Option<string?> CaCert { get; } = new("--cacert") { Description = "Trust the https:// API's certificate through this CA bundle (PEM).", Recursive = true };

    public Option<string?> Cert { get; } = new("--cert") { Description = "Client certificate (PEM) for an https:// API that asks for one.", Recursive = true };

    public Option<string?> Key { get; } = new("--key") { Description = "The client certificate's key (PEM).", Recursive = true };

    public Option<string> Output { get; } = CreateOutput();

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds allowed for one request.",
        DefaultValueFactory = _ => 10,
        Recursive = true,
    };

    public Option<string?> App { get; } = new("--app", "-a") { Description = "The app.", Recursive = true };

    public Option<string?> Env { get; } = new("--env", "-e") { Description = "The environment (DEV, PRO, ...).", Recursive = true };

    public Option<string?> Ns { get; } = new("--ns", "-n") { Description = "The namespace.", Recursive = true };

    public void AddTo(Command command)
    {
        command.Options.Add(Api);
        command.Options.Add(Author);
        command.Options.Add(Token);
        command.Options.Add(User);
        command.Options.Add(CaCert);
        command.Options.Add(Cert);
        command.Options.Add(Key);
        command.Options.Add(Output);
        command.Options.Add(Timeout);
        command.Options.Add(App);
        command.Options.Add(Env);
        command.Options.Add(Ns);
    }

    private static Option<string> CreateOutput()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Output format: table (default) or json (the API's answer, one line).",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        output.AcceptOnlyFromAmong("table", "json");
        return output;
    }
}

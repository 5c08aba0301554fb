namespace Conclave.Cli.Commands.Config;

/// <summary>The configuration API refused a request: its RFC 7807 problem, or why it could not be reached.</summary>
internal sealed class ConfigApiException(string message, int status = 0, string? code = null) : Exception(message)
{
    /// <summary>The HTTP status; 0 when the API was not reached.</summary>
    public int Status { get; } = status;

    /// <summary>The problem's <c>code</c> (NotFound, Conflict, InvalidDocument, ...), when the server sent one.</summary>
    public string? Code { get; } = code;
}

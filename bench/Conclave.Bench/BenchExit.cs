using Conclave.Client;

namespace Conclave.Bench;

/// <summary>Exit codes and one-line error texts, the same as the <c>conclave</c> CLI's.</summary>
internal static class BenchExit
{
    public const int Failure = 1;
    public const int Canceled = 130;

    public static string Describe(Exception e) => e switch
    {
        EndpointUnavailableException u => $"{u.Endpoint} is unavailable: {u.ServerMessage}",
        ConclaveException { ServerMessage: { Length: > 0 } server } c when !c.Message.Contains(server, StringComparison.Ordinal) => $"{c.Message} ({server})",
        _ => e.Message,
    };
}

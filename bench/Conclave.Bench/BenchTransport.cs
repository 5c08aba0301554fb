namespace Conclave.Bench;

/// <summary>How the bench talks gRPC: <c>--transport lean|grpc</c>.</summary>
internal enum BenchTransport
{
    /// <summary>
    /// The bench's own minimal HTTP/2 client (<see cref="Http2.LeanCallInvoker"/>): unary and server-streaming calls,
    /// a small fraction of grpc-dotnet's CPU per call, so that on a shared machine the server, not the client, is
    /// measured.
    /// </summary>
    Lean,

    /// <summary>grpc-dotnet (<c>Grpc.Net.Client</c>), what applications use.</summary>
    Grpc,
}

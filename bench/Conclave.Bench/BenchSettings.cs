namespace Conclave.Bench;

/// <summary>Settings every bench shares.</summary>
internal sealed record BenchSettings(
    IReadOnlyList<string> Endpoints,
    int Conns,
    int Clients,
    long Total,
    TimeSpan? Duration,
    int KeySize,
    int ValueSize,
    bool Json)
{
    /// <summary><c>--transport</c>: the bench's lean HTTP/2 client (default) or grpc-dotnet.</summary>
    public BenchTransport Transport { get; init; } = BenchTransport.Lean;

    /// <summary>Samples each worker should expect, to size its recorder up front.</summary>
    public int ExpectedPerClient => Duration is null ? (int)Math.Min(Total / Clients + 1, 1 << 24) : 1 << 16;

    public string Describe() =>
        $"{Endpoints.Count} endpoint(s), {Conns} conn(s), {Clients} client(s), "
        + (Duration is { } d ? $"{d.TotalSeconds:0.###} s" : $"{Total} requests")
        + $", key {KeySize} B, value {ValueSize} B";
}

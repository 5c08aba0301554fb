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

    /// <summary><c>--cacert</c>/<c>--cert</c>/<c>--key</c>: TLS toward every endpoint; null for cleartext.</summary>
    public BenchTls? Tls { get; init; }

    /// <summary>
    /// <c>--server-pid</c> of put and range: a local server whose CPU time during the measured loop is reported, which
    /// leaves out what the run costs it before the loop (connections, TLS handshakes, password checks).
    /// </summary>
    public int? ServerPid { get; init; }

    /// <summary>
    /// <c>--latency-log</c> of put and range: a file that gets one line per completed request, "unix-seconds latency-ms"
    /// (when it completed, how long it took), to set latency beside server events such as snapshots.
    /// </summary>
    public string? LatencyLog { get; init; }

    /// <summary><c>--user</c>: each connection authenticates once and sends its token with every request; null for none.</summary>
    public BenchCredentials? Credentials { get; init; }

    /// <summary>Samples each worker should expect, to size its recorder up front.</summary>
    public int ExpectedPerClient => Duration is null ? (int)Math.Min(Total / Clients + 1, 1 << 24) : 1 << 16;

    public string Describe() =>
        $"{Endpoints.Count} endpoint(s), {Conns} conn(s), {Clients} client(s), "
        + (Duration is { } d ? $"{d.TotalSeconds:0.###} s" : $"{Total} requests")
        + $", key {KeySize} B, value {ValueSize} B"
        + (Tls is null ? string.Empty : ", TLS")
        + (Credentials is null ? string.Empty : $", user {Credentials.Name}");
}

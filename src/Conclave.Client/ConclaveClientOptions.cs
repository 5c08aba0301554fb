namespace Conclave.Client;

/// <summary>
/// Settings for a <see cref="ConclaveClient"/>. Every member has a working default, so
/// <c>new ConclaveClientOptions()</c> talks to a single member on <c>127.0.0.1:2379</c>.
/// </summary>
public sealed record ConclaveClientOptions
{
    /// <summary>
    /// Client URLs of the cluster members, e.g. <c>http://127.0.0.1:2379</c> or just <c>127.0.0.1:2379</c>
    /// (cleartext HTTP/2 is assumed when no scheme is given). With several endpoints the client picks a home member
    /// by a consistent-hash ring over these addresses and <see cref="InstanceId"/>; on failure it moves to the next
    /// member on the ring and returns home once the home member answers again. Give every client the same address
    /// for a member (the ring hashes the address text) so clients agree on who goes where.
    /// </summary>
    public IReadOnlyList<string> Endpoints { get; init; } = ["http://127.0.0.1:2379"];

    /// <summary>
    /// A stable identifier of this client instance (for example a pod or host name). Its hash places the client on
    /// the endpoint ring, so it picks the client's home member: a stable id keeps a client on the same member across
    /// restarts, and different ids spread over the members. When <c>null</c>, <c>{machine name}/{process id}</c> is
    /// used (see <see cref="ConclaveClient.InstanceId"/>). When set, it is also sent to the server as
    /// <c>conclave-instance-id</c> metadata.
    /// </summary>
    public string? InstanceId { get; init; }

    /// <summary>How long opening a TCP connection to one endpoint may take.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Deadline for one attempt of a unary call (get, put, delete, txn, compact, status, member list).
    /// <see cref="Timeout.InfiniteTimeSpan"/> disables the deadline. Watches have no deadline.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many attempts a retryable call gets in total. Reads are retried when the endpoint is unavailable;
    /// writes only when the connection could not be opened, so the request certainly never reached a server.
    /// </summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>
    /// First delay between retries and reconnects; it doubles on every further failure. Also the first delay before
    /// the client probes a member it left after a failure, to return to it when it is healthy again.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Upper bound of the delay between retries and reconnects, and between probes of a member the client left.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Interval of HTTP/2 keep-alive pings on connections with active calls. etcd rejects pings more frequent
    /// than every 5 s (its <c>--grpc-keepalive-min-time</c>), so keep this above that.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a keep-alive ping answer before the connection is considered dead.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Default capacity, in server responses, of each watch's buffer. When it is full the client stops reading
    /// from the watch stream, so a slow consumer slows the server down instead of losing events.
    /// </summary>
    public int WatchBufferCapacity { get; init; } = 256;

    /// <summary>
    /// Logging for the gRPC channels (connection attempts, failures, retries at Debug level). <c>null</c> logs nothing.
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// For <c>https://</c> endpoints: a PEM file of the CA certificates the members' certificates must chain to
    /// (etcdctl's <c>--cacert</c>). Null trusts the operating system's CAs.
    /// </summary>
    public string? CaFile { get; init; }

    /// <summary>A client certificate (PEM) for members that ask for one (etcdctl's <c>--cert</c>); with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; init; }

    /// <summary>The private key (PEM) of <see cref="CertFile"/> (etcdctl's <c>--key</c>).</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// The app credential sent on every configuration call (<c>conclave-access-key</c> metadata): the
    /// <c>{id}.{secret}</c> that <c>conclave config credentials create</c> printed. <see cref="ConfigTarget.AccessKey"/>
    /// overrides it per target. Null: the <c>CONCLAVE_ACCESS_KEY</c> environment variable, if set. Sent only on the
    /// configuration center's calls, never on key-value calls.
    /// </summary>
    public string? AccessKey { get; init; }

    /// <summary>Clock used for deadlines, retry delays and reconnect back-off.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// An HTTP handler with this client's TLS settings (<see cref="CaFile"/> trusted, <see cref="CertFile"/> and
    /// <see cref="KeyFile"/> presented): for calling a member's HTTP API (<c>/api/v1</c>) over <c>https://</c> with the
    /// same files as the gRPC client. The caller owns (disposes) it.
    /// </summary>
    /// <exception cref="ArgumentException">A TLS file does not load (the message says which and why).</exception>
    public System.Net.Http.SocketsHttpHandler CreateHttpHandler() => new() { SslOptions = Internal.ClientTls.For(this) };
}

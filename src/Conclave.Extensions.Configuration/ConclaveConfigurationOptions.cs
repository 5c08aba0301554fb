using Conclave.Client;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration;

/// <summary>
/// Settings of the Conclave configuration provider (<c>builder.Configuration.AddConclave(o =&gt; ...)</c>). The
/// provider loads the namespaces' effective releases at start-up (bounded by <see cref="StartupTimeout"/>), falls back
/// to the encrypted last-known-good cache when the service is unreachable, and then follows changes live.
/// </summary>
public sealed class ConclaveConfigurationOptions
{
    /// <summary>Environment variable read for <see cref="CacheKey"/> when the option is not set.</summary>
    public const string CacheKeyEnvironmentVariable = "CONCLAVE_CACHE_KEY";

    /// <summary>Environment variable read for <see cref="InstanceId"/> when the option is not set.</summary>
    public const string InstanceIdEnvironmentVariable = "CONCLAVE_INSTANCE_ID";

    /// <summary>Environment variable read for <see cref="AccessKey"/> when the option is not set.</summary>
    public const string AccessKeyEnvironmentVariable = "CONCLAVE_ACCESS_KEY";

    /// <summary>
    /// The app credential of <see cref="App"/> in <see cref="Environment"/>, <c>{id}.{secret}</c> as
    /// <c>conclave config credentials create</c> printed it; sent on every configuration call. Required when auth is
    /// enabled on the members or the app has an active credential in the environment. Default: the
    /// <c>CONCLAVE_ACCESS_KEY</c> environment variable. When the service refuses it (revoked, unknown, another app's)
    /// the provider keeps its last known good values and says so in <see cref="ConclaveConfigurationStatus.AccessRefused"/>.
    /// </summary>
    public string? AccessKey { get; set; }

    /// <summary>Client URLs of the cluster members (<c>host:port</c> or <c>http(s)://host:port</c>).</summary>
    public IList<string> Endpoints { get; set; } = ["http://127.0.0.1:2379"];

    /// <summary>The app id in the configuration center. Required.</summary>
    public string App { get; set; } = string.Empty;

    /// <summary>The environment name, e.g. <c>PRO</c>. Required.</summary>
    public string Environment { get; set; } = string.Empty;

    /// <summary>
    /// The namespaces to load, in order: a key set by a later namespace overrides the same key of an earlier one.
    /// Properties namespaces map <c>a.b.c</c> to the configuration key <c>a:b:c</c>; json and yaml namespaces are
    /// flattened as <c>AddJsonFile</c> does; a text namespace becomes one key named after the namespace.
    /// </summary>
    public IList<string> Namespaces { get; set; } = ["application"];

    /// <summary>
    /// Stable id of this instance, used by gray rules and delivery tracking. Default: the
    /// <c>CONCLAVE_INSTANCE_ID</c> environment variable, else <c>HOSTNAME</c>, else the machine name.
    /// </summary>
    public string? InstanceId { get; set; }

    /// <summary>Labels of this instance (<c>zone</c> = <c>eu1</c>) for label gray rules.</summary>
    public IDictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// When the service is unreachable at start-up and there is no usable cache: <c>true</c> starts with no
    /// Conclave keys and fills them in once the service answers; <c>false</c> (default) fails start-up with
    /// <see cref="ConclaveStartupException"/>.
    /// </summary>
    public bool Optional { get; set; }

    /// <summary>How long <c>Load()</c> may wait for the service at start-up before using the cache. Default 5 s.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Directory of the last-known-good cache file; the file name is derived from app, environment and namespaces.
    /// Default: <c>conclave/cache</c> under the user's local application data folder (or the temp folder).
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Full path of the cache file; overrides <see cref="CacheDirectory"/>.</summary>
    public string? CachePath { get; set; }

    /// <summary>
    /// AES-256-GCM key of the cache: 32 random bytes in base64 (<c>openssl rand -base64 32</c>). Default: the
    /// <c>CONCLAVE_CACHE_KEY</c> environment variable. Without a key the cache is off (nothing is written in plain text).
    /// </summary>
    public string? CacheKey { get; set; }

    /// <summary>
    /// First delay before the subscription reconnects; doubles per failure, with jitter. Default 200 ms. (The
    /// start-up fetch uses the client's own short retries, so a dead service falls back to the cache in under a second.)
    /// </summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest delay between reconnect attempts. Default 30 s, so a fleet never hammers a recovering service.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether applied and rejected releases are reported to the center's delivery tracking. Default true.</summary>
    public bool ReportDelivery { get; set; } = true;

    /// <summary>
    /// Reports wait a random delay up to this long (default 1 s), so a fleet that applied a release in the same
    /// millisecond does not write its reports to the center in the same millisecond. Zero reports at once.
    /// </summary>
    public TimeSpan ReportSpread { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// While flags are evaluated, how often the evaluation counts of the flags namespaces are reported with their last
    /// delivery outcome (default 5 minutes; the center marks flags nobody evaluates as stale). Zero sends counts only
    /// with the report of a new release.
    /// </summary>
    public TimeSpan FlagUsageReportInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A client to share (for example one registered with <c>AddConclaveClient</c>); the provider does not dispose
    /// it. When null the provider creates its own from <see cref="Endpoints"/> and the retry delays.
    /// </summary>
    public ConclaveClient? Client { get; set; }

    /// <summary>Logging for the provider (it exists before the DI container does). <c>AddConclaveValidation</c> supplies the host's.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>For <c>https://</c> endpoints: the CA certificates (PEM) the members' certificates must chain to; null trusts the system's CAs.</summary>
    public string? CaFile { get; set; }

    /// <summary>A client certificate (PEM) for members that require one, with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; set; }

    /// <summary>The private key (PEM) of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Clock for the start-up timeout and cache timestamps.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

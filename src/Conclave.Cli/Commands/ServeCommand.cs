using System.CommandLine;
using Conclave.Server;

namespace Conclave.Cli.Commands;

/// <summary><c>conclave serve</c>: runs one member with etcd-style flags.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServerOptions();
        var name = new Option<string>("--name") { Description = "Human-readable name for this member.", DefaultValueFactory = _ => defaults.Name };
        var dataDir = new Option<string>("--data-dir") { Description = "Directory for the log and snapshots.", DefaultValueFactory = _ => defaults.DataDirectory };
        var listenClient = new Option<string>("--listen-client-urls") { Description = "gRPC (etcd v3) listen URLs, comma separated.", DefaultValueFactory = _ => string.Join(',', defaults.ListenClientUrls) };
        var advertiseClient = new Option<string?>("--advertise-client-urls") { Description = "Client URLs advertised to the cluster (default: the listen URLs)." };
        var listenHttp = new Option<string>("--listen-http-urls") { Description = "HTTP/1.1 listen URLs for /health, /metrics and the JSON API.", DefaultValueFactory = _ => string.Join(',', defaults.ListenHttpUrls) };
        var hostWhitelist = new Option<string?>("--host-whitelist")
        {
            Description = "Extra host names the HTTP listener answers, comma separated ('*' for any); IP addresses, localhost, this machine's name and the member's URLs are always answered.",
        };
        var certFile = new Option<string?>("--cert-file") { Description = "The member's TLS certificate (PEM) for https:// client and HTTP URLs; reloaded when the file changes." };
        var keyFile = new Option<string?>("--key-file") { Description = "The private key (PEM) of --cert-file." };
        var trustedCa = new Option<string?>("--trusted-ca-file") { Description = "CA certificates (PEM) that client certificates must chain to." };
        var clientCertAuth = new Option<bool>("--client-cert-auth") { Description = "Require a client certificate that chains to --trusted-ca-file on https:// listeners." };
        var peerCertFile = new Option<string?>("--peer-cert-file") { Description = "The member's TLS certificate (PEM) for https:// peer URLs: served by the peer listener and presented to other members; reloaded when the file changes." };
        var peerKeyFile = new Option<string?>("--peer-key-file") { Description = "The private key (PEM) of --peer-cert-file." };
        var peerTrustedCa = new Option<string?>("--peer-trusted-ca-file") { Description = "CA certificates (PEM) other members' certificates must chain to (default: the system's)." };
        var peerClientCertAuth = new Option<bool>("--peer-client-cert-auth") { Description = "Require every member connecting to the peer listener to present a certificate that chains to --peer-trusted-ca-file." };
        var tlsMinVersion = new Option<string>("--tls-min-version") { Description = "Oldest TLS version accepted (client, HTTP and peer): TLS1.2 or TLS1.3.", DefaultValueFactory = _ => "TLS1.2" };
        var cipherSuites = new Option<string?>("--cipher-suites") { Description = "TLS 1.2 cipher suites offered (client, HTTP and peer), comma separated IANA names (default: the platform's secure defaults)." };
        var insecureListen = new Option<bool>("--insecure-listen")
        {
            Description = "Allow plain-text listeners off loopback (http:// client, HTTP or peer URLs); logged at Warning on every start.",
        };
        var listenPeer = new Option<string>("--listen-peer-urls") { Description = "Raft peer listen URL.", DefaultValueFactory = _ => defaults.ListenPeerUrl };
        var advertisePeer = new Option<string?>("--initial-advertise-peer-urls") { Description = "Peer URL advertised to the cluster (default: the listen peer URL)." };
        var initialCluster = new Option<string?>("--initial-cluster") { Description = "Initial cluster: name=peerURL,... (default: this member alone)." };
        var initialState = new Option<string>("--initial-cluster-state") { Description = "'new' or 'existing'.", DefaultValueFactory = _ => defaults.InitialClusterState };
        var maxRequest = new Option<int>("--max-request-bytes") { Description = "Largest request accepted, in bytes.", DefaultValueFactory = _ => defaults.MaxRequestBytes };
        var maxTxnOps = new Option<int>("--max-txn-ops") { Description = "Most operations in one txn branch.", DefaultValueFactory = _ => defaults.MaxTxnOps };
        var maxStreams = new Option<int>("--max-concurrent-streams")
        {
            Description = "Most concurrent HTTP/2 streams a client may open on one gRPC connection.",
            DefaultValueFactory = _ => defaults.MaxConcurrentStreams,
        };
        var maxConnections = new Option<long>("--max-concurrent-connections")
        {
            Description = "Most open client connections on each gRPC, HTTP and metrics listener; 0 for no limit.",
            DefaultValueFactory = _ => defaults.MaxConcurrentConnections,
        };
        var quota = new Option<long>("--quota-backend-bytes") { Description = "Space quota in bytes; past it the NOSPACE alarm rejects writes.", DefaultValueFactory = _ => defaults.QuotaBackendBytes };
        var snapshotCount = new Option<int>("--snapshot-count") { Description = "Snapshots at multiples of this log index, fewer while little changed in a large state (use the same value on every member).", DefaultValueFactory = _ => defaults.SnapshotCount };
        var electionTimeout = new Option<int>("--election-timeout")
        {
            Description = "Election timeout in milliseconds (randomized between it and twice it); peer requests time out at half of it.",
            DefaultValueFactory = _ => (int)defaults.ElectionTimeout.TotalMilliseconds,
        };
        var heartbeat = new Option<int>("--heartbeat-interval")
        {
            Description = "Leader heartbeat interval in milliseconds; less than half the election timeout.",
            DefaultValueFactory = _ => (int)defaults.HeartbeatInterval.TotalMilliseconds,
        };

        var snapshotSendRate = new Option<int>("--snapshot-send-rate")
        {
            Description = "Most megabytes per second of a snapshot sent to one member that catches up (0: no limit).",
        };

        // Auth (etcd's flags; ADR 0014).
        var authToken = new Option<string>("--auth-token") { Description = "Token kind: 'simple' (signed by the cluster, checked by every member) or 'jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m' (etcd's JWT tokens).", DefaultValueFactory = _ => "simple" };
        var authTokenTtl = new Option<int>("--auth-token-ttl") { Description = "Seconds a token from Authenticate stays valid.", DefaultValueFactory = _ => (int)defaults.Auth.TokenTtl.TotalSeconds };
        var bcryptCost = new Option<int>("--bcrypt-cost") { Description = "bcrypt cost for passwords set through this member (4-31).", DefaultValueFactory = _ => defaults.Auth.BcryptCost };

        // OpenID Connect sign-in for the console (docs/security.md#openid-connect-sign-in-for-the-console).
        var oidcIssuer = new Option<string?>("--oidc-issuer") { Description = "OpenID Connect provider (issuer URL) the console offers sign-in with; needs auth enabled." };
        var oidcClientId = new Option<string?>("--oidc-client-id") { Description = "The console's client id at the OpenID Connect provider." };
        var oidcSecretFile = new Option<string?>("--oidc-client-secret-file") { Description = "File holding the client secret (or set CONCLAVE_OIDC_CLIENT_SECRET; never on the command line)." };
        var oidcUsernameClaim = new Option<string>("--oidc-username-claim") { Description = "ID token claim naming the user ('sub' when the token lacks it).", DefaultValueFactory = _ => defaults.Oidc.UsernameClaim };
        var oidcGroupsClaim = new Option<string>("--oidc-groups-claim") { Description = "ID token claim listing the user's groups, which become its roles.", DefaultValueFactory = _ => defaults.Oidc.GroupsClaim };
        var oidcScopes = new Option<string>("--oidc-scopes") { Description = "Scopes asked for, comma separated (those the provider does not list are left out).", DefaultValueFactory = _ => string.Join(',', defaults.Oidc.Scopes) };
        var oidcRedirect = new Option<string?>("--oidc-redirect-url") { Description = "Callback URL registered at the provider (default: the console's own /api/v1/session/oidc/callback as the browser reached it)." };
        var oidcPostLogout = new Option<string?>("--oidc-post-logout-redirect-url") { Description = "Where the provider sends the browser after sign-out ends its session, registered there as post_logout_redirect_uri (default: the console's root, under --oidc-redirect-url's origin or as the browser reached it)." };
        var oidcName = new Option<string?>("--oidc-provider-name") { Description = "Name on the console's 'Sign in with ...' button (default: the issuer's host)." };

        // Monitoring on its own listener, and the limits that protect the member from one client (docs/security.md#limits).
        var listenMetrics = new Option<string?>("--listen-metrics-urls")
        {
            Description = "Extra listen URLs serving only /metrics and /health (http:// or https://, comma separated).",
        };
        var maxLeases = new Option<int>("--max-leases") { Description = "Most leases alive at once.", DefaultValueFactory = _ => defaults.MaxLeases };
        var maxWatchesPerStream = new Option<int>("--max-watches-per-stream")
        {
            Description = "Most watches open on one Watch stream.",
            DefaultValueFactory = _ => defaults.MaxWatchesPerStream,
        };
        var maxWatchesPerConnection = new Option<int>("--max-watches-per-connection")
        {
            Description = "Most watches open on one gRPC connection, all its streams together.",
            DefaultValueFactory = _ => defaults.MaxWatchesPerConnection,
        };
        var maxWatchKeyBytes = new Option<long>("--max-watch-key-bytes-per-connection")
        {
            Description = "Most bytes of keys and range ends of the watches open on one gRPC connection.",
            DefaultValueFactory = _ => defaults.MaxWatchKeyBytesPerConnection,
        };
        var maxPendingResponse = new Option<long>("--max-pending-response-bytes")
        {
            Description = "Most bytes of large read responses (1 MiB or more) held until their clients take them.",
            DefaultValueFactory = _ => defaults.MaxPendingResponseBytes,
        };

        // The configuration center's secrets (ADR 0015): the master key that wraps every namespace's data key.
        var masterKeyFile = new Option<string[]>(Conclave.Server.Config.MasterKeySources.FileFlag)
        {
            Description = "A file holding the configuration center's master key (32 random bytes, base64). Repeat it or give a comma list during a rotation: the first is current, the others stay readable. Default: $CONCLAVE_MASTER_KEY.",
        };

        // Webhooks (ADR 0016): a webhook URL is chosen by an app manager and fetched by the member.
        var webhookRefusePrivate = new Option<bool>("--webhook-refuse-private-targets")
        {
            Description = "Refuse webhook targets on loopback, private, link-local (cloud metadata) and unique-local addresses, checked on every connection. Default: allowed.",
        };

        var logFormat = new Option<string>("--log-format") { Description = "Log format on standard output: 'text' (readable lines) or 'json' (one JSON object per line).", DefaultValueFactory = _ => "text" };
        var otlpEndpoint = new Option<string?>("--otlp-endpoint") { Description = "OpenTelemetry collector URL to send traces to (default: OTEL_EXPORTER_OTLP_ENDPOINT; none: no tracing)." };
        var otlpProtocol = new Option<string?>("--otlp-protocol") { Description = "OTLP transport: 'grpc' or 'http/protobuf' (default: OTEL_EXPORTER_OTLP_PROTOCOL, else grpc)." };

        var command = new Command("serve", "Run a Conclave member (a single-member cluster by default, data in ./conclave.data).")
        {
            name, dataDir, listenClient, advertiseClient, listenHttp, hostWhitelist, certFile, keyFile, trustedCa, clientCertAuth,
            peerCertFile, peerKeyFile, peerTrustedCa, peerClientCertAuth, tlsMinVersion, cipherSuites, insecureListen,
            listenPeer, advertisePeer, initialCluster, initialState, maxRequest, maxTxnOps, maxStreams, maxConnections, quota, snapshotCount, electionTimeout, heartbeat,
            authToken, authTokenTtl, bcryptCost, snapshotSendRate,
            oidcIssuer, oidcClientId, oidcSecretFile, oidcUsernameClaim, oidcGroupsClaim, oidcScopes, oidcRedirect, oidcPostLogout, oidcName,
            listenMetrics, maxLeases, maxWatchesPerStream, maxWatchesPerConnection, maxWatchKeyBytes, maxPendingResponse, masterKeyFile,
            webhookRefusePrivate, logFormat, otlpEndpoint, otlpProtocol,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Conclave.Server.Security.TlsSettings tls;
            try
            {
                tls = new Conclave.Server.Security.TlsSettings
                {
                    CertFile = parse.GetValue(certFile),
                    KeyFile = parse.GetValue(keyFile),
                    TrustedCaFile = parse.GetValue(trustedCa),
                    ClientCertAuth = parse.GetValue(clientCertAuth),
                    MinVersion = Conclave.Server.Security.TlsSettings.ParseMinVersion(parse.GetValue(tlsMinVersion)),
                    CipherSuites = Conclave.Server.Security.TlsSettings.ParseCipherSuites(parse.GetValue(cipherSuites)),
                };
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 2;
            }

            LogFormat format;
            try
            {
                format = ServerLogging.Parse(parse.GetValue(logFormat));
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 2;
            }

            Conclave.Server.Security.Auth.AuthSettings auth;
            try
            {
                var jwt = Conclave.Server.Security.Auth.AuthSettings.ParseTokenOption(parse.GetValue(authToken));
                if (parse.GetValue(authTokenTtl) <= 0)
                {
                    throw new ArgumentException($"--auth-token-ttl {parse.GetValue(authTokenTtl)}: must be at least 1 second");
                }

                auth = new Conclave.Server.Security.Auth.AuthSettings { TokenTtl = TimeSpan.FromSeconds(parse.GetValue(authTokenTtl)), BcryptCost = parse.GetValue(bcryptCost), Jwt = jwt };
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 2;
            }

            Conclave.Server.Security.Auth.Oidc.OidcSettings oidc;
            try
            {
                oidc = ReadOidc(parse.GetValue(oidcIssuer), parse.GetValue(oidcSecretFile)) with
                {
                    ClientId = parse.GetValue(oidcClientId) ?? "",
                    UsernameClaim = parse.GetValue(oidcUsernameClaim)!,
                    GroupsClaim = parse.GetValue(oidcGroupsClaim)!,
                    Scopes = Split(parse.GetValue(oidcScopes)),
                    RedirectUrl = parse.GetValue(oidcRedirect),
                    PostLogoutRedirectUrl = parse.GetValue(oidcPostLogout),
                    ProviderName = parse.GetValue(oidcName),
                };
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 2;
            }

            // etcd's --tls-min-version and --cipher-suites hold for the peer listener too.
            var peerTls = tls with
            {
                CertFile = parse.GetValue(peerCertFile),
                KeyFile = parse.GetValue(peerKeyFile),
                TrustedCaFile = parse.GetValue(peerTrustedCa),
                ClientCertAuth = parse.GetValue(peerClientCertAuth),
            };
            var options = new ServerOptions
            {
                Tls = tls,
                PeerTls = peerTls,
                Auth = auth,
                Webhooks = new Conclave.Server.Config.WebhookOptions { RefusePrivateTargets = parse.GetValue(webhookRefusePrivate) },
                Oidc = oidc,
                InsecureListen = parse.GetValue(insecureListen),
                Name = parse.GetValue(name)!,
                DataDirectory = parse.GetValue(dataDir)!,
                ListenClientUrls = Split(parse.GetValue(listenClient)),
                AdvertiseClientUrls = parse.GetValue(advertiseClient) is { } ac ? Split(ac) : null,
                ListenHttpUrls = Split(parse.GetValue(listenHttp)),
                HostWhitelist = parse.GetValue(hostWhitelist) is { } hosts ? Split(hosts) : null,
                ListenPeerUrl = parse.GetValue(listenPeer)!,
                InitialAdvertisePeerUrl = parse.GetValue(advertisePeer),
                InitialCluster = parse.GetValue(initialCluster),
                InitialClusterState = parse.GetValue(initialState)!,
                MaxRequestBytes = parse.GetValue(maxRequest),
                MaxTxnOps = parse.GetValue(maxTxnOps),
                MaxConcurrentStreams = parse.GetValue(maxStreams),
                MaxConcurrentConnections = parse.GetValue(maxConnections),
                QuotaBackendBytes = parse.GetValue(quota),
                SnapshotCount = parse.GetValue(snapshotCount),
                SnapshotSendBytesPerSecond = Math.Max(0, parse.GetValue(snapshotSendRate)) * 1_000_000L,
                ElectionTimeout = TimeSpan.FromMilliseconds(parse.GetValue(electionTimeout)),
                HeartbeatInterval = TimeSpan.FromMilliseconds(parse.GetValue(heartbeat)),
                ListenMetricsUrls = Split(parse.GetValue(listenMetrics)),
                MaxLeases = parse.GetValue(maxLeases),
                MaxWatchesPerStream = parse.GetValue(maxWatchesPerStream),
                MaxWatchesPerConnection = parse.GetValue(maxWatchesPerConnection),
                MaxWatchKeyBytesPerConnection = parse.GetValue(maxWatchKeyBytes),
                MaxPendingResponseBytes = parse.GetValue(maxPendingResponse),
                LogFormat = format,
                OtlpEndpoint = parse.GetValue(otlpEndpoint),
                OtlpProtocol = parse.GetValue(otlpProtocol),
            };

            try
            {
                options = Conclave.Server.Config.MasterKeySources.WithMasterKeys(
                    options, parse.GetValue(masterKeyFile) ?? [], Environment.GetEnvironmentVariable(Conclave.Server.Config.MasterKeySources.EnvironmentVariable));
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 2;
            }

            try
            {
                await using var server = await ConclaveServer.StartAsync(options, cancellationToken: cancellationToken);
                // Ctrl-C / SIGTERM stop the host; the server then stops its listeners and the member.
                await server.RunUntilStoppedAsync();
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or System.Net.Sockets.SocketException)
            {
                await Console.Error.WriteLineAsync($"conclave serve: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>The issuer and the client secret, from its file or <c>CONCLAVE_OIDC_CLIENT_SECRET</c> (a flag would show it in ps).</summary>
    private static Conclave.Server.Security.Auth.Oidc.OidcSettings ReadOidc(string? issuer, string? secretFile)
    {
        if (issuer is null)
        {
            return secretFile is null ? new() : throw new ArgumentException("--oidc-client-secret-file needs --oidc-issuer");
        }

        var secret = secretFile is not null
            ? File.ReadAllText(secretFile).Trim()
            : Environment.GetEnvironmentVariable("CONCLAVE_OIDC_CLIENT_SECRET")?.Trim() ?? "";
        return new() { Issuer = issuer, ClientSecret = secret };
    }

    private static IReadOnlyList<string> Split(string? value) =>
        (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

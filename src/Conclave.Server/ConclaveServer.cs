using System.Net;
using System.Net.Sockets;
using Conclave.Server.Config;
using Conclave.Server.Grpc;
using Conclave.Server.Http;
using Conclave.Server.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server;

/// <summary>
/// A running Conclave member: the replicated store plus its two listeners (gRPC on the client URLs, HTTP/1.1
/// on the HTTP URLs). Used by <c>conclave serve</c> and by tests that start real nodes in-process.
/// </summary>
public sealed class ConclaveServer : IAsyncDisposable
{
    private static int regexWarned;
    private readonly WebApplication app;
    private readonly Cluster.Peers.PeerListener peers;
    private readonly Security.ReloadingCertificates? peerCertificates;
    private int disposed;

    private ConclaveServer(
        WebApplication app, ConclaveNode node, Cluster.Peers.PeerListener peers, Security.ReloadingCertificates? peerCertificates,
        IReadOnlyList<string> clientUrls, IReadOnlyList<string> httpUrls, string peerUrl)
    {
        this.app = app;
        this.peers = peers;
        this.peerCertificates = peerCertificates;
        Node = node;
        ClientUrls = clientUrls;
        HttpUrls = httpUrls;
        PeerUrl = peerUrl;
    }

    /// <summary>The log category whose being enabled makes ASP.NET Core start an Activity per request.</summary>
    private const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public ConclaveNode Node { get; }

    /// <summary>The host's services (for tests).</summary>
    internal IServiceProvider Services => app.Services;

    /// <summary>The bound gRPC URLs (ports resolved).</summary>
    public IReadOnlyList<string> ClientUrls { get; }

    /// <summary>The bound HTTP URLs (ports resolved).</summary>
    public IReadOnlyList<string> HttpUrls { get; }

    /// <summary>The bound metrics URLs (<c>--listen-metrics-urls</c>, ports resolved): <c>/metrics</c> and <c>/health</c> only.</summary>
    public IReadOnlyList<string> MetricsUrls { get; private init; } = [];

    /// <summary>The bound Raft peer URL (port resolved).</summary>
    public string PeerUrl { get; }

    /// <summary>Completes when the host has stopped (Ctrl-C, SIGTERM or <see cref="DisposeAsync"/>).</summary>
    public Task Stopped => app.WaitForShutdownAsync();

    public static async Task<ConclaveServer> StartAsync(ServerOptions options, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        var clientUrls = options.ListenClientUrls.Select(ResolvePort).ToList();
        var httpUrls = options.ListenHttpUrls.Select(ResolvePort).ToList();
        var metricsUrls = options.ListenMetricsUrls.Select(ResolvePort).ToList();
        var peerUrl = ResolvePort(options.ListenPeerUrl);
        var advertisedClientUrls = options.AdvertiseClientUrls is { Count: > 0 } a ? a : clientUrls;
        var advertisedPeerUrl = options.InitialAdvertisePeerUrl ?? peerUrl;
        var peerTls = IsHttps(peerUrl);
        CheckPeerSchemes(options, peerUrl, advertisedPeerUrl);
        ServerTracing.Validate(options);

        var bootLogger = LoggerFactory.Create(l =>
        {
            if (configureLogging is null)
            {
                ServerLogging.Configure(l, options.LogFormat);
            }
            else
            {
                configureLogging(l);
            }
        });
        if (!Security.RegexTimeLimit.Apply() && Interlocked.Exchange(ref regexWarned, 1) == 0)
        {
            // Once per process: a host that built a regular expression before the member (a test runner) keeps no limit.
            bootLogger.CreateLogger("Conclave.Server.Limits").LogWarning(
                "regular expressions in this process run without a time limit (something built one before the member started): a JSON Schema pattern that backtracks can hold a core per publish");
        }

        var hosts = HostAllowList.Create(options.HostWhitelist, [.. clientUrls, .. httpUrls, .. metricsUrls, .. advertisedClientUrls, peerUrl, advertisedPeerUrl]);
        try
        {
            options.Oidc.Validate(hosts.AllowsAny);
        }
        catch
        {
            bootLogger.Dispose();
            throw;
        }

        if (options.Auth.BcryptCost is < 4 or > 31)
        {
            bootLogger.Dispose();
            throw new ArgumentException($"--bcrypt-cost {options.Auth.BcryptCost}: must be 4 to 31");
        }

        Security.Auth.IAuthTokens tokens;
        try
        {
            tokens = options.Auth.Jwt is { } jwt ? new Security.Auth.JwtTokens(jwt, options.TimeProvider) : new Security.Auth.SimpleTokens(options.Auth, options.TimeProvider);
        }
        catch (ArgumentException)
        {
            bootLogger.Dispose();
            throw;
        }

        // Secure by default: nothing off loopback in plain text unless the operator says so, every start. A TLS peer URL
        // is not plain text; without --peer-client-cert-auth it still lets anyone with a TLS client in (warned below).
        var exposed = clientUrls.Concat(httpUrls).Concat(metricsUrls).Append(peerUrl)
            .Where(static u => !IsHttps(u) && !IPAddress.IsLoopback(ToEndPoint(u).Address))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (exposed.Count > 0 && !options.InsecureListen)
        {
            bootLogger.Dispose();
            throw new ArgumentException(
                $"refusing to listen in plain text off loopback ({string.Join(", ", exposed)}): use https:// client and HTTP URLs with " +
                "--cert-file/--key-file, and https:// peer URLs with --peer-cert-file/--peer-key-file plus --peer-trusted-ca-file and " +
                "--peer-client-cert-auth (so members authenticate each other), or start with --insecure-listen to accept that anyone who " +
                "reaches these ports can read and write everything");
        }

        var securityLogger = bootLogger.CreateLogger("Conclave.Server.Security");
        if (exposed.Count > 0)
        {
            securityLogger.LogWarning(
                "--insecure-listen: {Urls} serve plain text off loopback without authentication; anyone who reaches them can read and write everything",
                string.Join(", ", exposed));
        }

        if (peerTls && !options.PeerTls.ClientCertAuth && !IPAddress.IsLoopback(ToEndPoint(peerUrl).Address))
        {
            securityLogger.LogWarning(
                "The peer URL {Url} serves TLS without --peer-client-cert-auth: anyone who reaches the peer port can speak Raft (and so read and write " +
                "everything); add --peer-trusted-ca-file and --peer-client-cert-auth so only members holding a certificate from the peers' CA get in",
                peerUrl);
        }

        // TLS for the https:// client and HTTP URLs: loaded once here (a member does not start with certificates it cannot
        // read), then read again when the files change.
        Security.ReloadingCertificates? certificates = null;
        if (clientUrls.Concat(httpUrls).Concat(metricsUrls).Any(IsHttps))
        {
            try
            {
                certificates = Security.ReloadingCertificates.Load(options.Tls, options.TimeProvider, bootLogger.CreateLogger("Conclave.Server.Tls"));
            }
            catch
            {
                bootLogger.Dispose();
                throw;
            }
        }
        else if (options.Tls.HasCertificate)
        {
            bootLogger.CreateLogger("Conclave.Server.Tls").LogWarning("--cert-file is set but no listen URL is https://: every listener serves plain text");
        }

        // TLS between members (https:// peer URLs): its own certificate and trust, reloaded the same way.
        Security.ReloadingCertificates? peerCertificates = null;
        if (peerTls)
        {
            try
            {
                if (options.PeerTls.CipherSuites is not null && OperatingSystem.IsWindows())
                {
                    throw new ArgumentException("--cipher-suites is not supported on Windows (its TLS stack takes the system's policy)");
                }

                peerCertificates = Security.ReloadingCertificates.Load(options.PeerTls, options.TimeProvider, bootLogger.CreateLogger("Conclave.Server.Tls"), "peer-");
            }
            catch
            {
                certificates?.Dispose();
                bootLogger.Dispose();
                throw;
            }
        }
        else if (options.PeerTls.HasCertificate)
        {
            bootLogger.CreateLogger("Conclave.Server.Tls").LogWarning("--peer-cert-file is set but the peer URL is http://: members talk to each other in plain text");
        }

        // Listening before the Raft node starts, so its instruments are seen from the first proposal.
        var meterBridge = new MeterBridge();
        // Traces only with a collector configured (docs/operations.md); started before the node for the same reason.
        var tracer = ServerTracing.Start(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (configureLogging is null)
        {
            ServerLogging.Configure(builder.Logging, options.LogFormat);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        // ASP.NET Core starts an Activity (a W3C trace id, a log scope) for every request while this category is
        // enabled at any level, even when nothing traces: about a tenth of the server's CPU per put. It logs only
        // request start/finish (Information); host start-up failures are still logged by Microsoft.Extensions.Hosting.
        builder.Logging.AddFilter(HostingDiagnosticsCategory, LogLevel.None);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1.5));
        // JSON bodies by compile-time metadata only (no reflection fallback): the same in the JIT and the Native AOT
        // build, and a body type missing from HttpJsonContext fails in tests instead of in the native binary.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Clear();
            o.SerializerOptions.TypeInfoResolverChain.Add(Http.HttpJsonContext.Default);
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxMessageBytes;
            k.Limits.MaxConcurrentConnections = options.MaxConcurrentConnections > 0 ? options.MaxConcurrentConnections : null;
            // etcd advertises no stream limit; Kestrel's rapid-reset defence counts in multiples of this one (a
            // connection with more than twice as many streams still being handled is closed), so it stays finite.
            k.Limits.Http2.MaxStreamsPerConnection = options.MaxConcurrentStreams;
            k.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            k.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
            k.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
            k.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
            var headerBlocks = Grpc.Authority.HeaderBlockLimits.FromKestrel(k.Limits, options.TimeProvider);
            var headerBlockEvents = Grpc.Authority.AuthorityNormalization.CreateEvents(k.ApplicationServices);
            foreach (var url in clientUrls)
            {
                Listen(k, url, certificates, options.Tls, l =>
                {
                    Grpc.GracefulClientClose.Use(l, options.TimeProvider);
                    Grpc.Authority.AuthorityNormalization.Use(l, headerBlocks, headerBlockEvents);
                    Grpc.ConnectionWatchBudget.Use(l, options);
                });
            }

            foreach (var url in httpUrls)
            {
                Listen(k, url, certificates, options.Tls, null);
            }

            foreach (var url in metricsUrls)
            {
                Listen(k, url, certificates, options.Tls, null, MetricsListener.Mark);
            }
        });

        // The peer listener (Cluster's): Raft, snapshots and member requests (learners' feeds included) share the peer port,
        // and Cluster serves all of it; this host's HTTP server serves only the client and HTTP URLs.
        Cluster.Peers.PeerListener peers;
        try
        {
            peers = Cluster.Peers.PeerListener.Bind(ToEndPoint(peerUrl), bootLogger, tls: peerCertificates?.ForPeers());
        }
        catch
        {
            bootLogger.Dispose();
            meterBridge.Dispose();
            tracer?.Dispose();
            certificates?.Dispose();
            peerCertificates?.Dispose();
            throw;
        }

        // The one clock of this member (ServerOptions.TimeProvider): services that measure or wait take it from here.
        builder.Services.AddSingleton(options.TimeProvider);
        builder.Services.AddSingleton<ServerMetrics>();
        builder.Services.AddSingleton(new Diagnostics.FollowerProgress(options.FollowerStallThreshold));
        builder.Services.AddHostedService<Diagnostics.FollowerMonitor>();
        builder.Services.AddSingleton(meterBridge);
        // Every service maps errors to etcd's codes and records request metrics: KvService itself (the hot path),
        // the others through the interceptor.
        builder.Services.AddGrpc(o =>
            {
                o.MaxReceiveMessageSize = options.MaxMessageBytes;
                o.MaxSendMessageSize = null;
                o.EnableDetailedErrors = false;
            })
            .AddServiceOptions<WatchService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>())
            .AddServiceOptions<MaintenanceService>(static o =>
            {
                o.Interceptors.Add<ErrorMappingInterceptor>();
                o.Interceptors.Add<Security.Auth.AdminCalls>();
            })
            .AddServiceOptions<ClusterService>(static o =>
            {
                o.Interceptors.Add<ErrorMappingInterceptor>();
                o.Interceptors.Add<Security.Auth.AdminCalls>();
            })
            .AddServiceOptions<AuthService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>())
            .AddServiceOptions<LeaseService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>())
            .AddServiceOptions<Concurrency.LockService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>())
            .AddServiceOptions<Concurrency.ElectionService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>())
            .AddServiceOptions<Config.ConfigGrpcService>(static o => o.Interceptors.Add<ErrorMappingInterceptor>());
        builder.Services.AddGrpcEdge();


        // The member starts (log replay, Raft) while the web host is built and its endpoints are materialized: both
        // are mostly one-time JIT and reflection work (about 200 ms each here), and the endpoints would otherwise be
        // built by the first request. The container hands out the member once it has started (it is placed in the slot
        // before the host starts); nothing resolves it earlier, and resolving it early is an error, never a wait.
        var nodeStart = Task.Run(() => ConclaveNode.StartAsync(options, peers, advertisedPeerUrl, advertisedClientUrls, bootLogger, cancellationToken), cancellationToken);
        var startedNode = new StartedNode();
        builder.Services.AddSingleton(_ => startedNode.Value);
        builder.Services.AddSingleton<KvFrontend>();
        builder.Services.AddSingleton(options.Auth);
        builder.Services.AddSingleton<Security.Auth.Passwords>();
        builder.Services.AddSingleton(tokens);
        // OpenID Connect sessions are simple tokens of their own kind (they name no auth-store user), whatever --auth-token says.
        builder.Services.AddSingleton(tokens as Security.Auth.SimpleTokens ?? new Security.Auth.SimpleTokens(options.Auth, options.TimeProvider));
        builder.Services.AddSingleton(options.Oidc);
        var oidcProvider = options.Oidc.Enabled ? new Security.Auth.Oidc.OidcProvider(options.Oidc, options.TimeProvider) : null;
        if (oidcProvider is not null)
        {
            builder.Services.AddSingleton(oidcProvider);
        }

        builder.Services.AddSingleton<Security.Auth.Authenticator>();
        builder.Services.AddSingleton<Security.Auth.AdminCalls>();
        builder.Services.AddSingleton<Leases.LeaseKeeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Leases.LeaseKeeper>());
        builder.Services.AddConfigCenter();
        Config.ApiRefusals.AddServices(builder.Services);
        ApiDocument.AddServices(builder.Services);

        WebApplication app;
        try
        {
            app = builder.Build();
            CrossSiteGuard.Use(app, hosts);
            MetricsListener.Use(app);
            Http2.ResetStreamFilter.Use(app);
            Grpc.LargeResponses.Use(app);
            var grpcPaths = GrpcPathLookup.UseBeforeRouting(app);
            Config.ApiRefusals.Use(app);
            Security.Auth.HttpSignIn.Use(app);
            app.MapGrpcService<KvService>();
            app.MapGrpcService<WatchService>();
            app.MapGrpcService<MaintenanceService>();
            app.MapGrpcService<ClusterService>();
            app.MapGrpcService<LeaseService>();
            app.MapGrpcService<Concurrency.LockService>();
            app.MapGrpcService<Concurrency.ElectionService>();
            app.MapGrpcService<AuthService>();
            HttpEndpoints.Map(app);
            OperatorHttpApi.Map(app);
            Security.Auth.HttpSignIn.Map(app, oidcProvider, hosts);
            Security.Auth.Oidc.OidcSignIn.Map(app, oidcProvider, hosts);
            app.MapConfigCenter();
            ApiDocument.Map(app);
            Console.ConsoleEndpoints.Map(app);
            MaterializeEndpoints(app);
            grpcPaths.Build(app);
        }
        catch
        {
            await StopQuietlyAsync(nodeStart);
            await peers.DisposeAsync();
            bootLogger.Dispose();
            meterBridge.Dispose();
            tracer?.Dispose();
            certificates?.Dispose();
            peerCertificates?.Dispose();
            throw;
        }

        ConclaveNode node;
        try
        {
            node = await nodeStart;
            startedNode.Value = node;
            // Requests only the leader answers, passed on by followers over the peer listener's request channel.
            app.Services.GetRequiredService<Leases.LeaseKeeper>().HandleLeaderRequests();
            LeaseService.HandleLeaderRequests(node, app.Services.GetRequiredService<Leases.LeaseKeeper>());
            ClusterService.HandleLeaderRequests(node);
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await StopQuietlyAsync(nodeStart);
            await app.DisposeAsync();
            await peers.DisposeAsync();
            bootLogger.Dispose();
            meterBridge.Dispose();
            tracer?.Dispose();
            certificates?.Dispose();
            peerCertificates?.Dispose();
            throw;
        }

        var server = new ConclaveServer(app, node, peers, peerCertificates, clientUrls, httpUrls, peerUrl) { MetricsUrls = metricsUrls };
        // A member removed from the cluster stops, as etcd's does: it would only serve stale data.
        node.Consensus.Removed.Register(app.Lifetime.StopApplication);
        app.Lifetime.ApplicationStopped.Register(bootLogger.Dispose);
        app.Lifetime.ApplicationStopped.Register(meterBridge.Dispose);
        if (tracer is not null)
        {
            app.Lifetime.ApplicationStopped.Register(tracer.Dispose);
        }

        if (oidcProvider is not null)
        {
            app.Lifetime.ApplicationStopped.Register(oidcProvider.Dispose);
        }
        if (certificates is not null)
        {
            app.Lifetime.ApplicationStopped.Register(certificates.Dispose);
        }
        var reachable = clientUrls.Concat(httpUrls).Where(static u => !IPAddress.IsLoopback(ToEndPoint(u).Address)).ToList();
        if (reachable.Count > 0 && !node.Store.Auth.Enabled)
        {
            // Beyond etcd: an open member off loopback is said out loud at every start (auth is replicated state, so the
            // member knows only now, after its log replay).
            app.Logger.LogWarning(
                "Auth is disabled and {Urls} can be reached from other machines: any client there can read and change every key. " +
                "Add a root user and run 'etcdctl auth enable' (docs/security.md)", string.Join(", ", reachable));
        }

        if (options.Oidc.Enabled && !node.Store.Auth.Enabled)
        {
            // A session names a user only while auth is enabled; until then the console's OIDC button is not offered.
            app.Logger.LogWarning(
                "--oidc-issuer is set but auth is disabled: OpenID Connect sign-in does nothing until 'etcdctl auth enable' (every caller is anonymous meanwhile)");
        }

        app.Logger.LogInformation(
            "conclave member {Name} ready: grpc {ClientUrls}, http {HttpUrls}, peer {PeerUrl}, data {DataDir}",
            options.Name,
            string.Join(",", clientUrls),
            string.Join(",", httpUrls),
            peerUrl,
            Path.GetFullPath(options.DataDirectory));
        if (metricsUrls.Count > 0)
        {
            app.Logger.LogInformation("metrics and health also on {MetricsUrls}", string.Join(",", metricsUrls));
        }

        return server;
    }

    /// <summary>
    /// Builds every endpoint once (route patterns, generated request delegates and the JSON contracts of their
    /// bodies), which routing otherwise does on the first request.
    /// </summary>
    private static void MaterializeEndpoints(WebApplication app)
    {
        foreach (var source in ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources)
        {
            _ = source.Endpoints;
        }
    }

    /// <summary>Stops a member whose start was begun, whatever became of it (startup is failing anyway).</summary>
    private static async Task StopQuietlyAsync(Task<ConclaveNode> nodeStart)
    {
        try
        {
            await (await nodeStart).DisposeAsync();
        }
        catch
        {
            // The start itself failed: nothing runs.
        }
    }

    /// <summary>Stops the listeners (ending open watches), then the member.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), Node.Options.TimeProvider);
            await app.StopAsync(timeout.Token);
        }
        finally
        {
            await Node.DisposeAsync();
            await app.DisposeAsync();
            await peers.DisposeAsync();
            // Last: Raft opens peer connections (presenting this certificate) until the member has stopped.
            peerCertificates?.Dispose();
        }
    }

    /// <summary>Stops when the host is asked to (SIGTERM / Ctrl-C) and cleans up.</summary>
    public async Task RunUntilStoppedAsync()
    {
        await app.WaitForShutdownAsync();
        await DisposeAsync();
    }

    /// <summary>
    /// Listens on <paramref name="url"/>: HTTP/2 (gRPC) with <paramref name="grpc"/>'s connection middleware, or
    /// HTTP/1.1 (with <paramref name="http"/>'s) when it is null; TLS first when the URL is <c>https://</c> (the
    /// middleware then sees the decrypted bytes).
    /// </summary>
    private static void Listen(KestrelServerOptions kestrel, string url, Security.ReloadingCertificates? certificates, Security.TlsSettings tls, Action<ListenOptions>? grpc, Action<ListenOptions>? http = null)
    {
        var endpoint = ToEndPoint(url);
        kestrel.Listen(endpoint, l =>
        {
            l.Protocols = grpc is null ? HttpProtocols.Http1 : HttpProtocols.Http2;
            if (IsHttps(url))
            {
                l.UseHttps(HttpsOptions(certificates ?? throw new InvalidOperationException("TLS was not loaded"), tls));
            }

            (grpc ?? http)?.Invoke(l);
        });
    }

    /// <summary>Kestrel's TLS for one listener: the current certificate, etcd's client certificate modes, the versions and suites configured.</summary>
    private static HttpsConnectionAdapterOptions HttpsOptions(Security.ReloadingCertificates certificates, Security.TlsSettings tls)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificateSelector = (_, _) => certificates.Certificate,
            SslProtocols = tls.Protocols,
            // etcd: with --client-cert-auth every client must present a trusted certificate; with only --trusted-ca-file
            // a certificate is checked when one is offered.
            ClientCertificateMode = tls.ClientCertAuth ? ClientCertificateMode.RequireCertificate
                : !string.IsNullOrEmpty(tls.TrustedCaFile) ? ClientCertificateMode.AllowCertificate
                : ClientCertificateMode.NoCertificate,
            ClientCertificateValidation = (certificate, _, _) => certificates.IsTrustedClient(certificate),
            CheckCertificateRevocation = false,
            HandshakeTimeout = TimeSpan.FromSeconds(10),
        };
        if (tls.CipherSuites is { } suites)
        {
            if (OperatingSystem.IsWindows())
            {
                throw new ArgumentException("--cipher-suites is not supported on Windows (its TLS stack takes the system's policy)");
            }

            var policy = new System.Net.Security.CipherSuitesPolicy(suites);
            https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
        }

        return https;
    }

    /// <summary>
    /// Members all speak TLS to each other or none does: a member whose peer URLs are https:// cannot talk to one whose are
    /// http://, so a mix is refused at start, saying what to fix.
    /// </summary>
    /// <exception cref="ArgumentException">The peer URLs mix schemes.</exception>
    private static void CheckPeerSchemes(ServerOptions options, string peerUrl, string advertisedPeerUrl)
    {
        var https = IsHttps(peerUrl);
        var scheme = https ? "https://" : "http://";
        if (IsHttps(advertisedPeerUrl) != https)
        {
            throw new ArgumentException(
                $"--listen-peer-urls is {scheme} but --initial-advertise-peer-urls '{advertisedPeerUrl}' is not: a member's peer URLs are all " +
                "https:// (TLS between members) or all http://");
        }

        if (string.IsNullOrWhiteSpace(options.InitialCluster))
        {
            return;
        }

        var mixed = ConclaveNode.ParseInitialCluster(options.InitialCluster, options.Name, advertisedPeerUrl)
            .Where(m => IsHttps(m.Value) != https)
            .Select(static m => $"{m.Key}={m.Value}")
            .ToList();
        if (mixed.Count > 0)
        {
            throw new ArgumentException(
                $"this member's peer URLs are {scheme} but --initial-cluster lists {string.Join(", ", mixed)}: members speak TLS to each other or none " +
                "does. " + (https
                    ? "Give every member https:// peer URLs (and --peer-cert-file/--peer-key-file), or make this member's http:// too"
                    : "Use https:// peer URLs (with --peer-cert-file/--peer-key-file) on this member too, or http:// for every member"));
        }
    }

    private static bool IsHttps(string url) => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    internal static IPEndPoint ToEndPoint(string url)
    {
        var uri = new Uri(url.Contains("://", StringComparison.Ordinal) ? url : "http://" + url);
        if (uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{url}': listen URLs are http:// or https://");
        }

        var address = uri.Host switch
        {
            "localhost" => IPAddress.Loopback,
            "0.0.0.0" or "*" or "+" => IPAddress.Any,
            var h => IPAddress.TryParse(h.Trim('[', ']'), out var ip) ? ip : throw new ArgumentException($"'{url}': the host must be an IP address or localhost"),
        };
        return new IPEndPoint(address, uri.Port);
    }

    /// <summary>Turns port 0 into a free port now, so every component agrees on the address.</summary>
    private static string ResolvePort(string url)
    {
        var endpoint = ToEndPoint(url);
        var scheme = IsHttps(url) ? "https" : "http";
        if (endpoint.Port != 0)
        {
            return $"{scheme}://{Format(endpoint)}";
        }

        using var probe = new TcpListener(endpoint.Address, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"{scheme}://{Format(new IPEndPoint(endpoint.Address, port))}";
    }

    private static string Format(IPEndPoint e) => e.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";

    /// <summary>Where the member goes once started, for the container's factory (which must not wait for it).</summary>
    private sealed class StartedNode
    {
        private ConclaveNode? node;

        public ConclaveNode Value
        {
            get => Volatile.Read(ref node) ?? throw new InvalidOperationException("The member is resolved before it has started: a service that needs it was created while the host was being built.");
            set => Volatile.Write(ref node, value);
        }
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Conclave.Api.Config.V1;
using Grpc.Core;

namespace Conclave.Bench;

/// <summary>
/// <c>conclave-bench config</c>: the configuration center under load. Fan-out: <c>--instances</c> subscribers over
/// <c>--subscriber-conns</c> gRPC connections; each round publishes a release through the JSON API and measures, per
/// instance, the time from just before the publish request to the release arriving on its stream. Then closed-loop
/// Fetch of a <c>--keys</c>-key properties namespace over <c>--conns</c> lean connections and <c>--clients</c> loops.
/// Creates its own app (<c>bench-...</c>); setup goes through <c>--api</c>.
/// </summary>
internal static class ConfigBench
{
    private const string Env = "BENCH";

    public static Command Create(Func<ParseResult, BenchSettings> settingsOf)
    {
        var api = new Option<string>("--api") { Description = "URL of the member's HTTP listener (/api/v1) used for setup and publishing.", DefaultValueFactory = _ => ConfigAdmin.DefaultApi };
        var instances = new Option<int>("--instances") { Description = "Subscribed instances.", DefaultValueFactory = _ => 1000 };
        var subscriberConns = new Option<int>("--subscriber-conns") { Description = "gRPC connections the subscribers share.", DefaultValueFactory = _ => 32 };
        var releases = new Option<int>("--releases") { Description = "Publish rounds.", DefaultValueFactory = _ => 20 };
        var pause = new Option<double>("--pause") { Description = "Seconds between one round's last delivery (and reports) and the next publish.", DefaultValueFactory = _ => 1 };
        var reports = new Option<bool>("--reports") { Description = "Each instance reports the release it applied, spread over --report-spread, as the provider does." };
        var spread = new Option<double>("--report-spread") { Description = "Seconds over which reports are spread.", DefaultValueFactory = _ => 1 };
        var keys = new Option<int>("--keys") { Description = "Keys of the namespace the fetch phase reads.", DefaultValueFactory = _ => 200 };
        var fetchDuration = new Option<string>("--fetch-duration") { Description = "How long the fetch phase runs (0s to skip it).", DefaultValueFactory = _ => "5s" };
        var serverPid = new Option<int?>("--server-pid") { Description = "A local server process whose CPU time per phase is reported." };
        var credential = new Option<bool>("--credential") { Description = "Create an app credential and send it on every Fetch, Subscribe and Report (its check is then measured)." };
        var secret = new Option<bool>("--secret") { Description = "Make both namespaces secret: values sealed in the log, opened for every delivery (the member needs --config-master-key-file)." };
        var planStep = new Option<double?>("--plan-step") { Description = "Run the publish rounds with a rollout plan active on the namespace, its first step at this percentage (the cohort stays on the gray release; the others are measured)." };
        var manyApps = new Option<int>("--apps") { Description = "Before the rounds, create this many other apps (3 environments x 4 namespaces each, every namespace with an item and a release) and time the API's list and lookup reads among them.", DefaultValueFactory = _ => 0 };
        var setupConcurrency = new Option<int>("--setup-concurrency") { Description = "API clients creating the --apps in parallel.", DefaultValueFactory = _ => 16 };
        var changes = new Option<int>("--changes") { Description = "After setup: this many item changes (PUT .../items/{key}) through the API by --change-clients loops, timed with the member's CPU per change (with --user, as that user: the center's access check is then part of every change).", DefaultValueFactory = _ => 0 };
        var changeClients = new Option<int>("--change-clients") { Description = "Concurrent API clients of the --changes phase.", DefaultValueFactory = _ => 4 };
        var user = new Option<string?>("--user") { Description = "name:password: sign in to /api/v1 (POST /api/v1/session) and make every API call as that user (a member with auth enabled); the app is then created by that user, its owner." };
        var flags = new Option<int>("--flags") { Description = "Make the fan-out namespace a flags namespace of this many flags (each with a users rule and a 20% rollout, docs/feature-flags.md); each round changes the number flag 'round', and a delivery counts when the instance's own evaluation of it gives the new round (publish -> flag change visible).", DefaultValueFactory = _ => 0 };
        var halt = new Option<bool>("--halt") { Description = "After the rounds: a plan at 100% that the fleet rejects past its 5% limit; measures the time from the report that crosses the limit to every instance having the main release again." };
        var command = new Command("config", "Publish -> delivery latency to many subscribed instances, and Fetch throughput of a large namespace.")
        {
            api, instances, subscriberConns, releases, pause, reports, spread, keys, fetchDuration, serverPid, credential, secret, planStep, halt, manyApps, setupConcurrency,
            changes, changeClients, user, flags,
        };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            try
            {
                var settings = settingsOf(parse);
                var options = new Options(
                    parse.GetRequiredValue(api), parse.GetValue(instances), parse.GetValue(subscriberConns), parse.GetValue(releases),
                    TimeSpan.FromSeconds(parse.GetValue(pause)), parse.GetValue(reports), TimeSpan.FromSeconds(parse.GetValue(spread)), parse.GetValue(keys),
                    parse.GetRequiredValue(fetchDuration) is "0" or "0s" ? null : BenchCommand.ParseDuration(parse.GetValue(fetchDuration)), parse.GetValue(serverPid),
                    parse.GetValue(credential), parse.GetValue(secret), parse.GetValue(planStep), parse.GetValue(halt), parse.GetValue(manyApps), parse.GetValue(setupConcurrency),
                    parse.GetValue(changes), parse.GetValue(changeClients), parse.GetValue(user), parse.GetValue(flags));
                if (options.Instances < 1 || options.SubscriberConns < 1 || options.Releases < 1 || options.Keys < 1 || options.SetupConcurrency < 1 || options.ChangeClients < 1)
                {
                    throw new ArgumentException("--instances, --subscriber-conns, --releases, --keys, --setup-concurrency and --change-clients must be at least 1.");
                }

                if (options.Apps < 0 || options.Changes < 0 || options.Flags < 0)
                {
                    throw new ArgumentException("--apps, --changes and --flags must not be negative.");
                }

                if (options.Flags > 0 && (options.PlanStep is not null || options.Halt || options.Secret || options.Changes > 0))
                {
                    throw new ArgumentException("--flags cannot be combined with --plan-step, --halt, --secret or --changes (they edit items of a properties namespace).");
                }

                if (options.User is { } u && (u.IndexOf(':', StringComparison.Ordinal) is var colon && (colon < 1 || colon == u.Length - 1)))
                {
                    throw new ArgumentException("--user must be name:password.");
                }

                await parse.InvocationConfiguration.Output.WriteAsync(await RunAsync(settings, options, parse.InvocationConfiguration.Error, cancellationToken));
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return BenchExit.Canceled;
            }
            catch (Exception e) when (e is ConfigAdminException or ArgumentException or RpcException or InvalidOperationException or TimeoutException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"Error: {e.Message}");
                return BenchExit.Failure;
            }
        });
        return command;
    }

    private sealed record Options(
        string Api, int Instances, int SubscriberConns, int Releases, TimeSpan Pause, bool Reports, TimeSpan ReportSpread, int Keys, TimeSpan? FetchDuration, int? ServerPid,
        bool Credential, bool Secret, double? PlanStep, bool Halt, int Apps, int SetupConcurrency, int Changes, int ChangeClients, string? User, int Flags);

    /// <summary>What every client call carries: the app credential with --credential, nothing otherwise.</summary>
    private static Metadata? headers;

    private static async Task<string> RunAsync(BenchSettings settings, Options options, TextWriter progress, CancellationToken cancellationToken)
    {
        using var admin = new ConfigAdmin(options.Api, "bench", TimeSpan.FromSeconds(30));
        if (options.User is { } user)
        {
            var colon = user.IndexOf(':', StringComparison.Ordinal);
            await admin.SignInAsync(user[..colon], user[(colon + 1)..], cancellationToken);
        }

        var app = "bench-" + Guid.NewGuid().ToString("N")[..8];
        await admin.PostAsync(ConfigAdmin.Path("apps"), new JsonObject { ["id"] = app }, cancellationToken);
        await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs"), new JsonObject { ["name"] = Env }, cancellationToken);
        await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs", Env, "namespaces"), new JsonObject { ["name"] = "fanout", ["format"] = options.Flags > 0 ? "flags" : "properties", ["secret"] = options.Secret }, cancellationToken);
        await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs", Env, "namespaces"), new JsonObject { ["name"] = "fetch", ["format"] = "properties", ["secret"] = options.Secret }, cancellationToken);
        headers = null;
        if (options.Credential)
        {
            var issued = await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs", Env, "credentials"), new JsonObject { ["name"] = "bench" }, cancellationToken);
            headers = new Metadata { { "conclave-access-key", issued!.Value.GetProperty("accessKey").GetString()! } };
        }
        var fanout = ConfigAdmin.Path("apps", app, "envs", Env, "namespaces", "fanout");
        var fetch = ConfigAdmin.Path("apps", app, "envs", Env, "namespaces", "fetch");
        var document = new StringBuilder();
        for (var k = 0; k < options.Keys; k++)
        {
            document.Append(CultureInfo.InvariantCulture, $"bench.key{k:D4}=value-{k}-{new string('x', 24)}\n");
        }

        await admin.PutAsync(fetch + "/content", new JsonObject { ["content"] = document.ToString() }, cancellationToken);
        await admin.PostAsync(fetch + "/releases", new JsonObject { ["title"] = "fetch" }, cancellationToken);
        await SetRoundAsync(admin, fanout, options, 0, cancellationToken);
        await admin.PostAsync(fanout + "/releases", new JsonObject { ["title"] = "round 0" }, cancellationToken);

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench config: app {app}, {options.Instances} instances over {options.SubscriberConns} connections ({settings.Transport.ToString().ToLowerInvariant()}), {options.Releases} releases, reports {(options.Reports ? "on" : "off")}, credential {(options.Credential ? "on" : "off")}, secret namespaces {(options.Secret ? "on" : "off")}, {options.Apps} other apps{(options.User is { } signedIn ? $", API calls as {signedIn[..signedIn.IndexOf(':', StringComparison.Ordinal)]}" : "")}\n");
        if (options.Changes > 0)
        {
            text.Append(await ChangesAsync(admin, fanout, options, cancellationToken));
        }

        if (options.Apps > 0)
        {
            var (others, created) = await ManyApps.CreateAsync(admin, app + "-other", options.Apps, options.SetupConcurrency, options.ServerPid, progress, cancellationToken);
            text.Append(created).Append(await ManyApps.MeasureReadsAsync(admin, others, cancellationToken));
        }

        text.Append(await FanOutAsync(app, fanout, settings, options, admin, progress, cancellationToken));
        if (options.FetchDuration is { } duration)
        {
            text.Append(await FetchAsync(app, settings with { Duration = duration }, options, cancellationToken));
        }

        return text.ToString();
    }

    private static async Task<string> FanOutAsync(string app, string fanout, BenchSettings settings, Options options, ConfigAdmin admin, TextWriter progress, CancellationToken cancellationToken)
    {
        using var connections = new BenchConnections(settings.Endpoints, options.SubscriberConns, settings.Transport);
        var clients = connections.Invokers.Select(i => new ConfigService.ConfigServiceClient(i)).ToArray();
        // stamps[r]: timestamp taken just before release r was requested; releases are numbered from 1 (round 0).
        var stamps = new long[options.Releases + 3];
        var delivered = new int[options.Releases + 3];
        var recorders = new LatencyRecorder[options.Instances];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ready = 0;
        var reportErrors = 0L;
        var current = new long[options.Instances];
        var haltRecorders = new LatencyRecorder[options.Instances];
        long haltTarget = 0, haltStamp = 0;

        async Task SubscriberAsync(int i)
        {
            var recorder = recorders[i] = new LatencyRecorder(options.Releases + 1);
            var haltRecorder = haltRecorders[i] = new LatencyRecorder(2);
            var client = clients[i % clients.Length];
            var me = new InstanceIdentity { InstanceId = $"bench-{i:D5}" };
            var random = new Random(i);
            using var call = client.Subscribe(new SubscribeRequest { App = app, Env = Env, Namespaces = { "fanout" }, Instance = me }, headers, cancellationToken: stop.Token);
            try
            {
                await foreach (var release in call.ResponseStream.ReadAllAsync(stop.Token))
                {
                    var id = release.ReleaseId;
                    Volatile.Write(ref current[i], id);
                    if (Volatile.Read(ref haltStamp) is var crossed and > 0 && id == Volatile.Read(ref haltTarget))
                    {
                        haltRecorder.Record(Stopwatch.GetTimestamp() - crossed);
                    }

                    if (id == 1)
                    {
                        Interlocked.Increment(ref ready);
                    }
                    else if (id < stamps.Length && Volatile.Read(ref stamps[id]) is var sent and > 0 && (options.Flags == 0 || RoundFlag(release.Content, me.InstanceId) == id - 1))
                    {
                        recorder.Record(Stopwatch.GetTimestamp() - sent);
                        Interlocked.Increment(ref delivered[id]);
                    }

                    if (options.Reports)
                    {
                        _ = ReportAsync(client, app, me, id, TimeSpan.FromMilliseconds(random.NextDouble() * options.ReportSpread.TotalMilliseconds));
                    }
                }
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }

        async Task ReportAsync(ConfigService.ConfigServiceClient client, string appId, InstanceIdentity me, long id, TimeSpan delay)
        {
            try
            {
                await Task.Delay(delay, stop.Token);
                await client.ReportAsync(new ReportRequest { App = appId, Env = Env, Namespace = "fanout", Instance = me, ReleaseId = id }, headers, cancellationToken: stop.Token);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException)
            {
                if (!stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref reportErrors);
                }
            }
        }

        var subscribers = Enumerable.Range(0, options.Instances).Select(i => Task.Run(() => SubscriberAsync(i), CancellationToken.None)).ToArray();
        await WaitUntilAsync(() => Volatile.Read(ref ready) >= options.Instances, TimeSpan.FromSeconds(60), $"{options.Instances} subscriptions to receive release 1", cancellationToken);
        await Task.Delay(options.Pause + options.ReportSpread, cancellationToken);

        // With --plan-step: a rollout plan on this namespace whose first step holds a cohort on the gray release (id 2)
        // while the rounds run; the leader's driver looks at the plan and the instances' reports every 250 ms.
        var offset = 1;
        var cohort = 0;
        if (options.PlanStep is { } step)
        {
            await admin.PutAsync(fanout + "/items/plan", new JsonObject { ["value"] = "on" }, cancellationToken);
            await admin.PostAsync(fanout + "/gray", new JsonObject
            {
                ["rule"] = new JsonObject(), ["title"] = "plan", ["plan"] = new JsonObject { ["text"] = string.Create(CultureInfo.InvariantCulture, $"{step}%@3600s,100%@3600s") },
            }, cancellationToken);
            await admin.DeleteAsync(fanout + "/items/plan", cancellationToken);
            offset = 2;
            var seen = -1;
            for (var stable = 0; stable < 4; await Task.Delay(500, cancellationToken))
            {
                cohort = current.Count(c => c == 2);
                stable = cohort == seen ? stable + 1 : 0;
                seen = cohort;
            }

            await progress.WriteLineAsync($"plan active: {cohort} instances in the {step}% cohort on the gray release");
        }

        var expected = options.Instances - cohort;
        var before = ProcessUsage.Sample(options.ServerPid);
        var clock = Stopwatch.StartNew();
        var lost = 0L;
        for (var round = 1; round <= options.Releases; round++)
        {
            var id = round + offset;
            await SetRoundAsync(admin, fanout, options, round, cancellationToken);
            Volatile.Write(ref stamps[id], Stopwatch.GetTimestamp());
            await admin.PostAsync(fanout + "/releases", new JsonObject { ["title"] = $"round {round}" }, cancellationToken);
            try
            {
                await WaitUntilAsync(() => Volatile.Read(ref delivered[id]) >= expected, TimeSpan.FromSeconds(10), $"release {id} to reach every instance", cancellationToken);
            }
            catch (TimeoutException e)
            {
                await progress.WriteLineAsync(e.Message);
            }

            lost += expected - Volatile.Read(ref delivered[id]);
            await Task.Delay(options.Pause + (options.Reports ? options.ReportSpread : TimeSpan.Zero), cancellationToken);
        }

        var elapsed = clock.Elapsed;
        var after = ProcessUsage.Sample(options.ServerPid);
        var latency = LatencyRecorder.Summarize(recorders);
        var reportText = options.Reports ? await ReportCostAsync() : "";
        var haltText = "";
        if (options.Halt)
        {
            haltText = await HaltAsync();
        }

        await stop.CancelAsync();
        await Task.WhenAll(subscribers);
        var deliveries = (long)expected * options.Releases;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"  publish -> delivered: {latency.Count} of {deliveries} deliveries, lost {lost}{(options.PlanStep is { } p ? $" (plan active: {cohort} instances in the {p}% cohort, not measured)" : "")}\n");
        text.Append(CultureInfo.InvariantCulture, $"    p50 {latency.P50:0.0} ms, p90 {latency.P90:0.0} ms, p99 {latency.P99:0.0} ms, max {latency.Max:0.0} ms\n");
        if (before is not null && after is not null)
        {
            var cpu = after.CpuSeconds - before.CpuSeconds;
            text.Append(CultureInfo.InvariantCulture, $"    server CPU {cpu:0.00} s over {elapsed.TotalSeconds:0.0} s = {cpu * 1000 / deliveries:0.000} ms per delivery{(options.Reports ? " (incl. its report)" : "")}; RSS {after.RssKb / 1024} MiB\n");
        }

        if (options.Reports)
        {
            text.Append(CultureInfo.InvariantCulture, $"    report errors {Interlocked.Read(ref reportErrors)}\n");
        }

        return text.Append(reportText).Append(haltText).ToString();

        // The member's CPU per report on its own: a quiet window (subscriptions open, lease renewals running, nothing
        // published or reported) and then a window of the same length in which every instance reports the release it
        // has once, spread over it as in the rounds; the difference over the number of reports.
        async Task<string> ReportCostAsync()
        {
            var window = options.ReportSpread + TimeSpan.FromSeconds(1);
            var quietBefore = ProcessUsage.Sample(options.ServerPid);
            await Task.Delay(window, cancellationToken);
            var quietAfter = ProcessUsage.Sample(options.ServerPid);
            var errorsBefore = Interlocked.Read(ref reportErrors);
            var sw = Stopwatch.StartNew();
            var reportsDone = Enumerable.Range(0, options.Instances).Select(i => ReportAsync(
                clients[i % clients.Length], app, new InstanceIdentity { InstanceId = $"bench-{i:D5}" }, Volatile.Read(ref current[i]),
                TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * options.ReportSpread.TotalMilliseconds))).ToArray();
            await Task.WhenAll(reportsDone);
            var took = sw.Elapsed;
            await Task.Delay(window - took > TimeSpan.Zero ? window - took : TimeSpan.Zero, cancellationToken);
            var busyAfter = ProcessUsage.Sample(options.ServerPid);
            var failed = Interlocked.Read(ref reportErrors) - errorsBefore;
            var line = string.Create(CultureInfo.InvariantCulture, $"  reports alone: {options.Instances} reports in {took.TotalSeconds:0.00} s, errors {failed}\n");
            if (quietBefore is not null && quietAfter is not null && busyAfter is not null)
            {
                var quiet = quietAfter.CpuSeconds - quietBefore.CpuSeconds;
                var busy = busyAfter.CpuSeconds - quietAfter.CpuSeconds;
                line += string.Create(CultureInfo.InvariantCulture,
                    $"    server CPU {busy:0.00} s with reports, {quiet:0.00} s in a quiet window of the same length = {(busy - quiet) * 1000 / options.Instances:0.000} ms per report\n");
            }

            return line;
        }

        // A plan at 100% (limit 5% rejected, judged after half the fleet reported); every instance reports the gray
        // release applied, then just over 5% report it rejected. From the moment the crossing report is acknowledged,
        // how long until each instance has the main release again (the driver halts the plan and abandons the gray).
        async Task<string> HaltAsync()
        {
            var n = await admin.GetAsync(fanout, cancellationToken);
            if (n!.Value.GetProperty("gray").ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                await admin.PostAsync(fanout + "/gray/plan/abort", new JsonObject { ["reason"] = "bench: halt phase" }, cancellationToken);
            }

            var head = (await admin.GetAsync(fanout, cancellationToken))!.Value.GetProperty("headReleaseId").GetInt64();
            await admin.PutAsync(fanout + "/items/halt", new JsonObject { ["value"] = "bad" }, cancellationToken);
            var grayId = (await admin.PostAsync(fanout + "/gray", new JsonObject
            {
                ["rule"] = new JsonObject(), ["title"] = "halt",
                ["plan"] = new JsonObject { ["text"] = "100%@3600s", ["maxRejectedPercent"] = 5, ["minReports"] = options.Instances / 2 },
            }, cancellationToken))!.Value.GetProperty("id").GetInt64();
            await WaitUntilAsync(() => current.All(c => c == grayId), TimeSpan.FromSeconds(30), "every instance on the gray release", cancellationToken);
            await Task.Delay(options.ReportSpread + TimeSpan.FromSeconds(1), cancellationToken); // the subscribers' own reports of it land first
            var client = clients[0];
            await Parallel.ForEachAsync(Enumerable.Range(0, options.Instances), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (i, ct) =>
                await client.ReportAsync(new ReportRequest { App = app, Env = Env, Namespace = "fanout", Instance = new InstanceIdentity { InstanceId = $"bench-{i:D5}" }, ReleaseId = grayId }, headers, cancellationToken: ct));
            var rejecting = (int)Math.Floor(options.Instances * 0.05) + 1;
            Volatile.Write(ref haltTarget, head);
            await Parallel.ForEachAsync(Enumerable.Range(0, rejecting), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (i, ct) =>
                await client.ReportAsync(new ReportRequest
                {
                    App = app, Env = Env, Namespace = "fanout", Instance = new InstanceIdentity { InstanceId = $"bench-{i:D5}" }, ReleaseId = grayId,
                    Status = DeliveryStatus.Rejected, Reason = "bench: rejected",
                }, headers, cancellationToken: ct));
            Volatile.Write(ref haltStamp, Stopwatch.GetTimestamp());
            await WaitUntilAsync(() => current.All(c => c == head), TimeSpan.FromSeconds(30), "every instance back on the main release", cancellationToken);
            var back = LatencyRecorder.Summarize(haltRecorders);
            var outcome = (await admin.GetAsync(fanout, cancellationToken))!.Value.GetProperty("rollout").GetProperty("outcome").GetString();
            return string.Create(CultureInfo.InvariantCulture,
                $"  halt -> rolled back: {back.Count} of {options.Instances} instances on the main release again after {rejecting} rejections crossed the 5% limit\n" +
                $"    from the crossing report to the instance: p50 {back.P50:0.0} ms, p90 {back.P90:0.0} ms, p99 {back.P99:0.0} ms, max {back.Max:0.0} ms\n    plan: {outcome}\n");
        }
    }

    /// <summary>
    /// Item changes through the API, closed loop: each of --change-clients loops sets its own keys (50 each, in turn) until
    /// --changes are done. Every change is a replicated transaction; with --user it also runs the center's access check.
    /// </summary>
    /// <summary>Round <paramref name="round"/>'s fan-out content: the item <c>round</c>, or with --flags a flags document whose flag <c>round</c> serves it.</summary>
    private static async Task SetRoundAsync(ConfigAdmin admin, string fanout, Options options, int round, CancellationToken cancellationToken)
    {
        if (options.Flags == 0)
        {
            await admin.PutAsync(fanout + "/items/round", new JsonObject { ["value"] = round.ToString(CultureInfo.InvariantCulture) }, cancellationToken);
            return;
        }

        var flags = new JsonObject
        {
            ["round"] = new JsonObject { ["type"] = "number", ["variants"] = new JsonObject { ["current"] = round }, ["defaultVariant"] = "current" },
        };
        for (var f = 1; f < options.Flags; f++)
        {
            flags[$"bench.flag{f:D4}"] = new JsonObject
            {
                ["type"] = "boolean", ["defaultVariant"] = "off",
                ["rules"] = new JsonArray(
                    new JsonObject { ["users"] = new JsonArray("bench-00001", "bench-00002"), ["variant"] = "on" },
                    new JsonObject { ["rollout"] = new JsonArray(new JsonObject { ["variant"] = "on", ["percentage"] = 20 }) }),
            };
        }

        await admin.PutAsync(fanout + "/content", new JsonObject { ["content"] = new JsonObject { ["flags"] = flags }.ToJsonString() }, cancellationToken);
    }

    /// <summary>What the instance's own evaluation of the flag <c>round</c> gives: the document parsed and evaluated as a client does.</summary>
    private static long RoundFlag(string content, string instanceId)
    {
        var set = Conclave.Flags.FlagSet.Parse(content);
        return (long)Conclave.Flags.FlagReader.GetDouble(set, "round", -1, new Conclave.Flags.FlagContext { InstanceId = instanceId }).Value;
    }

    private static async Task<string> ChangesAsync(ConfigAdmin admin, string fanout, Options options, CancellationToken cancellationToken)
    {
        // Warm-up: the member's first changes pay for its JIT or cold caches, which is not what this phase measures.
        for (var i = 0; i < Math.Min(200, options.Changes); i++)
        {
            await admin.PutAsync($"{fanout}/items/warm{i % 10}", new JsonObject { ["value"] = i.ToString(CultureInfo.InvariantCulture) }, cancellationToken);
        }

        var recorders = new LatencyRecorder[options.ChangeClients];
        var next = -1;
        var before = ProcessUsage.Sample(options.ServerPid);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, options.ChangeClients).Select(c => Task.Run(async () =>
        {
            var recorder = recorders[c] = new LatencyRecorder(options.Changes / options.ChangeClients + 1);
            for (var i = Interlocked.Increment(ref next); i < options.Changes; i = Interlocked.Increment(ref next))
            {
                var started = Stopwatch.GetTimestamp();
                await admin.PutAsync($"{fanout}/items/c{c}k{i % 50}", new JsonObject { ["value"] = i.ToString(CultureInfo.InvariantCulture) }, cancellationToken);
                recorder.Record(Stopwatch.GetTimestamp() - started);
            }
        }, cancellationToken)));
        var elapsed = clock.Elapsed;
        var after = ProcessUsage.Sample(options.ServerPid);
        var latency = LatencyRecorder.Summarize(recorders);
        var cpu = before is null || after is null ? "" : string.Create(CultureInfo.InvariantCulture, $", member CPU {(after.CpuSeconds - before.CpuSeconds) * 1e6 / options.Changes:0} µs per change");
        return string.Create(CultureInfo.InvariantCulture,
            $"  changes: {options.Changes} item changes over {options.ChangeClients} clients in {elapsed.TotalSeconds:0.00} s = {options.Changes / elapsed.TotalSeconds:0} changes/s, p50 {latency.P50:0.00} ms, p99 {latency.P99:0.00} ms{cpu}\n");
    }

    private static async Task<string> FetchAsync(string app, BenchSettings settings, Options options, CancellationToken cancellationToken)
    {
        using var connections = new BenchConnections(settings);
        var clients = connections.Invokers.Select(i => new ConfigService.ConfigServiceClient(i)).ToArray();
        var requests = Enumerable.Range(0, settings.Clients)
            .Select(c => new FetchRequest { App = app, Env = Env, Namespaces = { "fetch" }, Instance = new InstanceIdentity { InstanceId = $"fetch-{c}" } })
            .ToArray();
        var before = ProcessUsage.Sample(options.ServerPid);
        var result = await ClosedLoop.RunAsync(settings, (client, _, ct) => clients[client % clients.Length].FetchAsync(requests[client], headers, cancellationToken: ct).ResponseAsync, cancellationToken);
        var after = ProcessUsage.Sample(options.ServerPid);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"  fetch of a {options.Keys}-key namespace: {settings.Clients} clients over {settings.Conns} connections ({settings.Transport.ToString().ToLowerInvariant()}), {result.Elapsed.TotalSeconds:0.0} s\n");
        text.Append(CultureInfo.InvariantCulture, $"    {result.RequestsPerSecond:0} fetches/s, errors {result.Errors}; p50 {result.Latency.P50:0.00} ms, p99 {result.Latency.P99:0.00} ms, max {result.Latency.Max:0.00} ms\n");
        if (before is not null && after is not null && result.Succeeded > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"    server CPU {(after.CpuSeconds - before.CpuSeconds) * 1_000_000 / result.Succeeded:0} µs per fetch\n");
        }

        return text.ToString();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(2, cancellationToken);
        }
    }
}

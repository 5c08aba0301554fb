using System.Net;
using Conclave.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orders;

var builder = WebApplication.CreateBuilder(args);

// One line adds Conclave: settings from the "Conclave" section (appsettings.json, or Conclave__App=... variables).
// Loading is bounded (StartupTimeout); when the service is down the encrypted last-known-good cache is used.
builder.Configuration.AddConclave(builder.Configuration.GetSection("Conclave"), o =>
    o.LoggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(c => c.SingleLine = true)));

// Bound like any options; a release that fails these validators is not applied and is reported "rejected".
builder.Services.AddConclaveOptions<OrdersOptions>("Orders").ValidateDataAnnotations();

// ConclaveClient for direct KV/lock/election use, plus the "conclave" health check (Degraded on cached config).
builder.Services.AddConclaveClient(builder.Configuration.GetSection("Conclave"));

var app = builder.Build();
var started = DateTimeOffset.UtcNow;

app.MapGet("/", (IOptionsMonitor<OrdersOptions> orders, IConfiguration configuration) =>
{
    var o = orders.CurrentValue;
    var status = configuration.GetConclaveProviders().Select(p => p.Status).FirstOrDefault();
    var releases = status is null ? "" : string.Join(", ", status.Releases.Select(r => $"{r.Key}#{r.Value}"));
    var html = $"""
        <!doctype html><html><head><meta charset="utf-8"><title>Orders</title>
        <meta http-equiv="refresh" content="2"></head><body style="font-family:sans-serif">
        <h1>{WebUtility.HtmlEncode(o.Greeting)}</h1>
        <p>Max items per order: <b>{o.MaxItems}</b></p>
        <p><small>Conclave: {status?.Origin} {(status?.Connected == true ? "connected" : "disconnected")}, releases {WebUtility.HtmlEncode(releases)}
        {WebUtility.HtmlEncode(status?.LastRejection ?? "")} · up since {started:HH:mm:ss}</small></p>
        </body></html>
        """;
    return Results.Content(html, "text/html");
});

app.MapGet("/settings", (IOptionsMonitor<OrdersOptions> orders) => orders.CurrentValue);
app.MapHealthChecks("/health");

// Logged once, after the first request could be served: the cold-start figure of the README.
app.Lifetime.ApplicationStarted.Register(() =>
    app.Logger.LogInformation("Orders ready in {Elapsed:F0} ms", (DateTimeOffset.UtcNow - System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalMilliseconds));

app.Run();

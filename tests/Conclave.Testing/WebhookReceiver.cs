using System.Collections.Concurrent;
using System.Diagnostics;
using Conclave.Server.Config;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conclave.Testing;

/// <summary>
/// A real HTTP endpoint for webhook tests (Kestrel on 127.0.0.1, port chosen by the system): records every request with
/// its headers, body, arrival time and whether its signature verifies under <see cref="Secret"/>, and answers with the
/// status <see cref="Answer"/> chooses from the request's number (1-based).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private int count;

    private WebhookReceiver(WebApplication app) => this.app = app;

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>The secret signatures are checked with (set once the webhook is created).</summary>
    public string? Secret { get; set; }

    /// <summary>The status to answer the n-th request with; 200 by default.</summary>
    public Func<int, int> Answer { get; set; } = _ => 200;

    public string Url { get; private set; } = "";

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext h) =>
        {
            using var reader = new StreamReader(h.Request.Body);
            var body = await reader.ReadToEndAsync();
            var signature = h.Request.Headers[WebhookSender.SignatureHeader].ToString();
            var verified = receiver.Secret is { } secret && signature == WebhookSender.Sign(System.Text.Encoding.UTF8.GetBytes(secret), body)
                // Verified independently of the member's helper too: HMAC-SHA256 over the raw body, lowercase hex.
                && signature == "sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret), System.Text.Encoding.UTF8.GetBytes(body)));
            var n = Interlocked.Increment(ref receiver.count);
            receiver.Requests.Enqueue(new Received(
                n, receiver.clock.Elapsed, body, verified, h.Request.Headers[WebhookSender.EventIdHeader].ToString(), h.Request.Headers[WebhookSender.EventHeader].ToString(),
                h.Request.Headers[WebhookSender.AttemptHeader].ToString()));
            var status = receiver.Answer(n);
            if (status is >= 300 and < 400)
            {
                // Back to this endpoint: a client that followed it would show up here as an extra request.
                h.Response.Headers.Location = "/hook";
            }

            return Results.StatusCode(status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = address.TrimEnd('/') + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public sealed record Received(int Number, TimeSpan At, string Body, bool SignatureVerified, string EventId, string EventType, string Attempt);
}

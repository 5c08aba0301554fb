using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Conclave.ConfigCenter.Webhooks;

namespace Conclave.Server.Config;

/// <summary>
/// Sends one webhook request (ADR 0016): POST of the stored JSON body, signed with HMAC-SHA256 under the webhook's secret.
/// A webhook URL is chosen by an app manager and fetched by the member, so it is a server-side request forgery vector:
/// redirects are never followed, the answer's body is never read (only its status), each attempt has a timeout, and with
/// <see cref="WebhookOptions.RefusePrivateTargets"/> the address each connection resolves to is checked before connecting.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const string SignatureHeader = "X-Conclave-Signature-256";
    public const string EventHeader = "X-Conclave-Event";
    public const string EventIdHeader = "X-Conclave-Event-Id";
    public const string AttemptHeader = "X-Conclave-Delivery-Attempt";
    public const string WebhookHeader = "X-Conclave-Webhook-Id";

    private readonly HttpClient client;
    private readonly WebhookOptions options;
    private readonly TimeProvider time;

    /// <param name="options">Timeout and target rules.</param>
    /// <param name="time">The clock each attempt's timeout runs on (the member's <c>ServerOptions.TimeProvider</c>).</param>
    public WebhookSender(WebhookOptions options, TimeProvider? time = null)
    {
        this.options = options;
        this.time = time ?? TimeProvider.System;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            MaxResponseHeadersLength = 16,
            ConnectCallback = ConnectAsync,
        };
        client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Conclave-Webhook", "1"));
    }

    /// <summary>The signature header's value for <paramref name="body"/>: <c>sha256=</c> and the lowercase hex HMAC.</summary>
    public static string Sign(byte[] secret, string body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(body)));

    /// <summary>One attempt; never throws for what the endpoint or the network does (that is the attempt's outcome).</summary>
    public async Task<WebhookAttempt> SendAsync(Webhook hook, WebhookDelivery delivery, byte[] secret, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url)
        {
            Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(SignatureHeader, Sign(secret, delivery.Payload));
        request.Headers.Add(EventHeader, delivery.EventType);
        request.Headers.Add(EventIdHeader, delivery.EventId);
        request.Headers.Add(AttemptHeader, (delivery.Attempts + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookHeader, hook.Id);
        using var deadline = new CancellationTokenSource(options.Timeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            // Headers only: the body is never read, so an endpoint cannot make the member buffer anything.
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return new WebhookAttempt(status, status is >= 200 and < 300 ? null
                : status is >= 300 and < 400 ? $"answered {status} (redirects are not followed)" : $"answered {status}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookAttempt(null, $"no answer within {options.Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            return new WebhookAttempt(null, e.InnerException is WebhookTargetRefusedException refused ? refused.Message : e.Message);
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        if (options.RefusePrivateTargets)
        {
            // Every address, not only the first: the socket may fall back to another one.
            if (addresses.FirstOrDefault(IsPrivate) is { } bad)
            {
                throw new WebhookTargetRefusedException($"{host} resolves to {bad}, a loopback, private or link-local address, which this member refuses as a webhook target (--webhook-refuse-private-targets)");
            }
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Loopback, private, link-local, unique-local, carrier-grade NAT, multicast or unspecified.</summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] >= 224;
        }

        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast;
    }

    public void Dispose() => client.Dispose();
}

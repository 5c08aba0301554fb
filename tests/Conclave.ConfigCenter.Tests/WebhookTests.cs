using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Webhooks;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Webhooks end to end on a real member (ADR 0016), against a real HTTP receiver: a publish makes one signed delivery with
/// the right payload; an endpoint answering 500 is tried again with back-off and the same event id; a dead endpoint's
/// failures show in the delivery log until the delivery is marked failed, and a redelivery starts it again; the secret
/// is shown once; rejections by instances are events; URLs other than http(s) are refused. Retries are fast here
/// (200 ms doubling), not the 10 s of a real member.
/// </summary>
public sealed class WebhookTests(WebhookTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<WebhookTests.Fixture>
{
    public static readonly WebhookRetry FastRetry = new() { BaseDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(1), MaxAttempts = 4 };

    public sealed class Fixture : IAsyncLifetime
    {
        public TestNode Node { get; private set; } = null!;

        public ConfigCenterService Center { get; private set; } = null!;

        public DeliveryService Delivery { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Node = await TestNode.StartInProcessAsync(configure: o => o with { Webhooks = new WebhookOptions { Retry = FastRetry, PollInterval = TimeSpan.FromMilliseconds(100) } });
            var port = new LocalKeyValuePort(Node.Server.Node, new LeaseKeeper(Node.Server.Node, NullLogger<LeaseKeeper>.Instance));
            Center = new ConfigCenterService(port);
            Delivery = new DeliveryService(port);
        }

        public async Task DisposeAsync() => await Node.DisposeAsync();
    }

    private static readonly ChangeContext Alice = new("alice", "test");

    private async Task<string> AppAsync()
    {
        var app = "hooks-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Center.CreateAppAsync(app, null, null, Alice);
        await fixture.Center.CreateEnvironmentAsync(app, "DEV", Alice);
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        return app;
    }

    private HttpClient Http()
    {
        var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add(ConfigHttpApi.AuthorHeader, "alice");
        return http;
    }

    private static async Task<JsonElement> CreateAsync(HttpClient http, string app, object body)
    {
        using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app}/webhooks", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement[]> DeliveriesAsync(HttpClient http, string app, string id, CancellationToken ct = default) =>
        (await http.GetFromJsonAsync<JsonElement[]>($"/api/v1/apps/{app}/webhooks/{id}/deliveries", ct))!;

    [Fact]
    public async Task A_publish_makes_one_signed_delivery_with_the_release_in_its_payload()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var app = await AppAsync();
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = receiver.Url, description = "ci" });
        receiver.Secret = created.GetProperty("secret").GetString();
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;
        Assert.StartsWith("whsec_", receiver.Secret);

        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "first", null, 0, Alice);

        var log = await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d.Length == 1 && d[0].GetProperty("state").GetString() == "Delivered",
            Eventually.DefaultTimeout, "the publish is delivered");
        var got = Assert.Single(receiver.Requests);
        output.WriteLine(got.Body);
        Assert.True(got.SignatureVerified, "the signature verifies under the secret shown at creation");
        Assert.Equal("release.publish", got.EventType);
        Assert.Equal("1", got.Attempt);
        var payload = JsonDocument.Parse(got.Body).RootElement;
        Assert.Equal(got.EventId, payload.GetProperty("id").GetString());
        Assert.Equal(log[0].GetProperty("eventId").GetString(), got.EventId);
        Assert.Equal("release.publish", payload.GetProperty("type").GetString());
        Assert.Equal(app, payload.GetProperty("app").GetString());
        Assert.Equal("DEV", payload.GetProperty("env").GetString());
        Assert.Equal("application", payload.GetProperty("namespace").GetString());
        Assert.Equal("alice", payload.GetProperty("actor").GetString());
        Assert.Equal(1, payload.GetProperty("releaseId").GetInt64());
        Assert.Equal("first", payload.GetProperty("detail").GetString());
        Assert.Equal(1, log[0].GetProperty("attempts").GetInt32());
        Assert.Equal(200, log[0].GetProperty("lastStatus").GetInt32());

        // The item edit made no event (not in the default set), and nothing was sent twice.
        Assert.Single(receiver.Requests);
    }

    [Fact]
    public async Task An_endpoint_answering_500_is_tried_again_with_back_off_and_the_same_event_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = n => n <= 2 ? 500 : 204;
        var app = await AppAsync();
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = receiver.Url, events = new[] { "release.*" } });
        receiver.Secret = created.GetProperty("secret").GetString();
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;

        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);

        var log = await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d.Length == 1 && d[0].GetProperty("state").GetString() == "Delivered",
            Eventually.DefaultTimeout, "the publish is delivered on the third attempt");
        var got = receiver.Requests.ToArray();
        foreach (var r in got)
        {
            output.WriteLine($"#{r.Number} at {r.At.TotalMilliseconds:0} ms attempt {r.Attempt} id {r.EventId}");
        }

        Assert.Equal(3, got.Length);
        Assert.All(got, r => Assert.True(r.SignatureVerified));
        Assert.Single(got.Select(r => r.EventId).Distinct());
        Assert.Single(got.Select(r => r.Body).Distinct());
        Assert.Equal(["1", "2", "3"], got.Select(r => r.Attempt));
        // Back-off: at least the base delay after the first failure, at least twice it after the second.
        Assert.True(got[1].At - got[0].At >= FastRetry.BaseDelay, $"second attempt {got[1].At - got[0].At} after the first");
        Assert.True(got[2].At - got[1].At >= FastRetry.BaseDelay * 2, $"third attempt {got[2].At - got[1].At} after the second");
        Assert.Equal(3, log[0].GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task A_dead_endpoint_shows_its_failures_in_the_log_is_marked_failed_and_can_be_redelivered()
    {
        var dead = $"http://127.0.0.1:{FreePorts.Take(1)[0]}/hook";
        var app = await AppAsync();
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = dead });
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);

        var failing = await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d.Length == 1 && d[0].GetProperty("attempts").GetInt32() >= 1,
            Eventually.DefaultTimeout, "a failed attempt is logged");
        output.WriteLine(failing[0].GetRawText());
        Assert.False(string.IsNullOrEmpty(failing[0].GetProperty("lastError").GetString()));
        var failed = await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d[0].GetProperty("state").GetString() == "Failed",
            Eventually.DefaultTimeout, "the delivery is marked failed after the last attempt");
        Assert.Equal(FastRetry.MaxAttempts, failed[0].GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, failed[0].GetProperty("lastStatus").ValueKind);

        var eventId = failed[0].GetProperty("eventId").GetString()!;
        using var again = await http.PostAsync($"/api/v1/apps/{app}/webhooks/{id}/deliveries/{eventId}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d[0].GetProperty("state").GetString() == "Failed" && d[0].GetProperty("attempts").GetInt32() == FastRetry.MaxAttempts
            && d[0].GetProperty("lastAttemptAt").GetDateTimeOffset() > failed[0].GetProperty("lastAttemptAt").GetDateTimeOffset(),
            Eventually.DefaultTimeout, "the redelivery ran its attempts again");
        var audit = await fixture.Center.AuditAsync(app);
        Assert.Contains(audit, a => a.Action == "webhook.redeliver" && a.Detail == eventId);
    }

    [Fact]
    public async Task The_secret_is_shown_at_creation_only_and_a_ping_is_signed_with_it()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var app = await AppAsync();
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = receiver.Url });
        var secret = created.GetProperty("secret").GetString()!;
        receiver.Secret = secret;
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;

        var listed = await http.GetStringAsync($"/api/v1/apps/{app}/webhooks");
        var one = await http.GetStringAsync($"/api/v1/apps/{app}/webhooks/{id}");
        var audit = JsonSerializer.Serialize((await fixture.Center.AuditAsync(app)).Select(a => a.Detail + " " + a.Target));
        foreach (var text in new[] { listed, one, audit })
        {
            Assert.DoesNotContain(secret, text);
            Assert.DoesNotContain(secret[6..20], text);
        }

        Assert.Contains("..." + secret[^4..], one);
        // The audit names the host only: receivers often carry a secret in the URL's path.
        Assert.DoesNotContain("/hook", audit, StringComparison.Ordinal);
        Assert.Contains(new Uri(receiver.Url).GetLeftPart(UriPartial.Authority) + "/...", audit, StringComparison.Ordinal);

        using var ping = await http.PostAsync($"/api/v1/apps/{app}/webhooks/{id}/ping", null);
        Assert.Equal(HttpStatusCode.Accepted, ping.StatusCode);
        await Eventually.WaitAsync(() => receiver.Requests.Any(r => r.EventType == "ping"), Eventually.DefaultTimeout, "the ping arrives");
        Assert.True(receiver.Requests.Single(r => r.EventType == "ping").SignatureVerified);

        using var deleted = await http.DeleteAsync($"/api/v1/apps/{app}/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await http.GetAsync($"/api/v1/apps/{app}/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_rejection_by_an_instance_is_an_event_once_and_filters_narrow_what_is_sent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var app = await AppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "other", NamespaceFormat.Properties, null, Alice);
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = receiver.Url, env = "DEV", @namespace = "application", events = new[] { "instance.reject", "gray.*" } });
        receiver.Secret = created.GetProperty("secret").GetString();

        await fixture.Center.SetItemAsync(app, "DEV", "other", new ConfigItem("k", "v"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "other", "not sent: other namespace", null, 0, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "bad"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "not sent: filtered type", null, 0, Alice);
        await fixture.Delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Rejected, "port is not a number", "test");
        await fixture.Delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Rejected, "port is not a number", "test");
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "9090"), 0, Alice);
        await fixture.Center.GrayPublishAsync(app, "DEV", "application", new GrayRule { Percentage = 10 }, "gray", null, 0, Alice);

        await Eventually.WaitAsync(() => receiver.Requests.Any(r => r.EventType == "gray.publish"), Eventually.DefaultTimeout, "the gray publish arrives");
        var got = receiver.Requests.ToArray();
        Assert.Equal(["instance.reject", "gray.publish"], got.Select(r => r.EventType));
        var rejection = JsonDocument.Parse(got[0].Body).RootElement;
        Assert.Contains("pod-1", rejection.GetProperty("detail").GetString());
        Assert.Contains("port is not a number", rejection.GetProperty("detail").GetString());
        Assert.Equal(2, JsonDocument.Parse(got[1].Body).RootElement.GetProperty("grayReleaseId").GetInt64());
    }

    [Fact]
    public async Task A_redirect_is_not_followed_but_counted_as_a_failed_attempt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => 307; // keeps the POST: a client following it would loop back here up to 50 times
        var app = await AppAsync();
        using var http = Http();
        var created = await CreateAsync(http, app, new { url = receiver.Url });
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;
        using (var ping = await http.PostAsync($"/api/v1/apps/{app}/webhooks/{id}/ping", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, ping.StatusCode);
        }

        var log = await Eventually.WaitForAsync(ct => DeliveriesAsync(http, app, id, ct), d => d.Length == 1 && d[0].GetProperty("attempts").GetInt32() >= 1,
            Eventually.DefaultTimeout, "the redirected attempt is logged");
        Assert.Equal(307, log[0].GetProperty("lastStatus").GetInt32());
        Assert.Contains("redirects are not followed", log[0].GetProperty("lastError").GetString());
        Assert.NotEqual("Delivered", log[0].GetProperty("state").GetString());
        var attempts = (await DeliveriesAsync(http, app, id))[0].GetProperty("attempts").GetInt32();
        Assert.True(receiver.Requests.Count <= attempts + 1, $"{receiver.Requests.Count} requests for {attempts} recorded attempts: a redirect was followed");
        Assert.All(receiver.Requests, r => Assert.Equal("ping", r.EventType));
    }

    [Fact]
    public async Task Deleting_the_app_deletes_its_webhooks_so_a_new_app_of_that_name_inherits_none()
    {
        var app = "gone-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Center.CreateAppAsync(app, null, null, Alice);
        using var http = Http();
        await CreateAsync(http, app, new { url = "http://127.0.0.1:1/hook" });
        using (var deleted = await http.DeleteAsync($"/api/v1/apps/{app}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        await fixture.Center.CreateAppAsync(app, null, null, new ChangeContext("mallory"));
        Assert.Empty((await http.GetFromJsonAsync<JsonElement[]>($"/api/v1/apps/{app}/webhooks"))!);
    }

    [Theory]
    [InlineData("ftp://example.com/hook")]
    [InlineData("file:///etc/passwd")]
    [InlineData("http://user:pw@example.com/hook")]
    [InlineData("/relative")]
    public async Task Urls_other_than_plain_http_or_https_are_refused_as_problem_details(string url)
    {
        var app = await AppAsync();
        using var http = Http();
        using var response = await http.PostAsJsonAsync($"/api/v1/apps/{app}/webhooks", new { url });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("InvalidArgument", problem.GetProperty("code").GetString());
        output.WriteLine(problem.GetProperty("detail").GetString());
    }

    [Fact]
    public void Private_targets_are_recognized()
    {
        foreach (var a in new[] { "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1", "100.64.0.1" })
        {
            Assert.True(WebhookSender.IsPrivate(IPAddress.Parse(a)), a);
        }

        foreach (var a in new[] { "8.8.8.8", "172.32.0.1", "2606:4700::1111" })
        {
            Assert.False(WebhookSender.IsPrivate(IPAddress.Parse(a)), a);
        }
    }
}

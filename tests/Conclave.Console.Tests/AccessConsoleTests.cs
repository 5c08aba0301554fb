namespace Conclave.Console.Tests;

/// <summary>
/// The permission-aware console (issue 21 item 6) in real Chromium against a member with auth enabled: each page offers
/// only what the signed-in user may do (the member still checks, and a refusal shows its reason); release approval by a
/// second person; secrets masked with a reveal for holders of reveal; app credentials shown once, then revoked; access.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class AccessConsoleTests(ConsoleFixture fixture, AuthConsoleNode auth, ITestOutputHelper output)
    : BrowserTest(fixture, output), IClassFixture<AuthConsoleNode>
{
    [Fact]
    public Task Namespace_page_offers_each_user_only_what_they_may_do() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("perm");
        using var olivia = await auth.AsAsync("olivia");
        await GrantAsync(olivia, app, "user:ed", "edit", "PRO", "application");
        await GrantAsync(olivia, app, "user:rel", "release", "PRO", null);

        // ed may edit: the item controls are there, Publish is not.
        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await SignInAsync(page, "ed");
        var items = page.GetByRole(AriaRole.Table, new() { Name = "Items" });
        await Expect(items).ToContainTextAsync("8080");
        await Expect(page.GetByTestId("my-permissions")).ToHaveTextAsync("Your permissions here: edit");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Edit port" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" })).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("no-release")).ToBeVisibleAsync();
        await page.GetByLabel("Key", new() { Exact = true }).FillAsync("timeout");
        await page.GetByLabel("Value", new() { Exact = true }).FillAsync("5s");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save item" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved timeout (not published yet)");
        await Expect(items).ToContainTextAsync("5s");
        await ScreenAsync(page, "namespace-editor-only");

        // vic holds nothing: reading only.
        await SignOutAndInAsync(page, "vic");
        await Expect(items).ToContainTextAsync("5s");
        await Expect(page.GetByTestId("my-permissions")).ToHaveTextAsync("Your permissions here: read only");
        await Expect(page.GetByTestId("read-only")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Edit port" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save item" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" })).ToHaveCountAsync(0);
        await Tab(page, "Policy").ClickAsync();
        await Expect(page.GetByLabel("Require approval", new() { Exact = false })).ToBeDisabledAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save policy" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.List, new() { Name = "Editors since the last release" })).ToContainTextAsync("ed");

        // rel may release (not edit): Publish is there, the item form is not.
        await SignOutAndInAsync(page, "rel");
        await Tab(page, "Edit").ClickAsync();
        await Expect(page.GetByTestId("my-permissions")).ToHaveTextAsync("Your permissions here: release");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save item" })).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog.GetByRole(AriaRole.Table, new() { Name = "Changes to publish" })).ToContainTextAsync("5s");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");

        // The member still decides: rel's grant is revoked while the page shows Publish; the refusal is shown as such.
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/items/port", new { value = "9090" });
        await olivia.SendAsync(HttpMethod.Delete, $"/api/v1/apps/{app}/access/grants?subject=user:rel&permission=release&env=PRO&ns=*");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync("rel may not release");
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync("'release' permission");
    });

    [Fact]
    public Task Release_needs_a_second_person_to_approve() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("approve");
        using var olivia = await auth.AsAsync("olivia");
        await GrantAsync(olivia, app, "user:rel", "release", "PRO", "application");
        await GrantAsync(olivia, app, "role:releasers", "release", "PRO", null);
        (await Etcdctl.RunAsync(auth.Node.Endpoint, "--user", "root:rootpw", "role", "add", "releasers")).EnsureSuccess();
        (await Etcdctl.RunAsync(auth.Node.Endpoint, "--user", "root:rootpw", "user", "grant-role", "rita", "releasers")).EnsureSuccess();

        // The owner switches approval on in the Policy tab.
        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=policy");
        await SignInAsync(page, "olivia");
        await page.GetByLabel("Require approval", new() { Exact = false }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save policy" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the release policy");
        await Expect(page.Locator(".summary")).ToContainTextAsync("releases need approval");

        // rel publishes: a request is filed instead, and rel may not approve it.
        await SignOutAndInAsync(page, "rel");
        await Tab(page, "Edit").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("Release title").FillAsync("port 8080");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Request release" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Release request 1 filed, waiting for approval");
        await Expect(page.Locator(".summary")).ToContainTextAsync("Never published");
        await page.GetByTestId("pending-requests").ClickAsync();
        var request = page.GetByRole(AriaRole.Region, new() { Name = "Release request 1" });
        await Expect(request).ToContainTextAsync("requested by rel");
        await Expect(request.GetByTestId("own-request")).ToBeVisibleAsync();
        await Expect(request.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);

        // rita (release through her role) sees the diff and approves; the release is out, authored by rel.
        await SignOutAndInAsync(page, "rita");
        var diff = request.GetByRole(AriaRole.Table, new() { Name = "Changes in Release request 1" });
        await Expect(diff.GetByRole(AriaRole.Row).Filter(new() { HasText = "port" })).ToContainTextAsync("Added8080");
        await ScreenAsync(page, "release-approval");
        await request.GetByLabel("Comment").FillAsync("looks right");
        await request.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Approved release request 1: published r1");
        await Expect(page.Locator(".summary")).ToContainTextAsync("Main release r1");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Decided release requests" })).ToContainTextAsync("approved → r1");
        await Tab(page, "Releases").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Releases" }).GetByRole(AriaRole.Row).Nth(1)).ToContainTextAsync("rel (approved by rita)");

        var latest = await olivia.SendAsync(HttpMethod.Get, $"{ns}/releases/latest");
        Assert.Equal(1, latest.GetProperty("id").GetInt64());
        Assert.Equal("rita", latest.GetProperty("approvedBy").GetString());
    });

    [Fact]
    public Task Secrets_are_masked_and_revealed_only_for_holders_of_reveal() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("secret");
        using var olivia = await auth.AsAsync("olivia");
        await GrantAsync(olivia, app, "user:sam", "reveal", "PRO", null);

        // The owner adds a secret item with the Secret checkbox; it is masked at once.
        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await SignInAsync(page, "olivia");
        await page.GetByLabel("Key", new() { Exact = true }).FillAsync("db.password");
        await page.GetByLabel("Secret", new() { Exact = true }).CheckAsync();
        await Expect(page.GetByLabel("Value", new() { Exact = true })).ToHaveAttributeAsync("type", "password");
        await page.GetByLabel("Value", new() { Exact = true }).FillAsync("s3cret-value");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save item" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved db.password (secret) (not published yet)");
        var row = page.GetByRole(AriaRole.Table, new() { Name = "Items" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "db.password" });
        await Expect(row).ToContainTextAsync("******");
        Assert.DoesNotContain("s3cret-value", await page.ContentAsync(), StringComparison.Ordinal);
        var stored = await olivia.SendAsync(HttpMethod.Get, ns);
        Assert.Contains(stored.GetProperty("items").EnumerateArray(), i => i.GetProperty("key").GetString() == "db.password" && i.GetProperty("secret").GetBoolean());

        // Editing it without revealing sends the mask back, which keeps the stored value; it stays secret.
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit db.password" }).ClickAsync();
        await Expect(page.GetByLabel("Value", new() { Exact = true })).ToHaveValueAsync("******");
        await Expect(page.GetByLabel("Secret", new() { Exact = true })).ToBeCheckedAsync();
        await Expect(page.GetByLabel("Secret", new() { Exact = true })).ToBeDisabledAsync();
        await page.GetByLabel("Comment", new() { Exact = true }).FillAsync("rotated monthly");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save item" }).ClickAsync();
        await Expect(row).ToContainTextAsync("rotated monthly");
        var revealed = await olivia.SendAsync(HttpMethod.Get, ns + "?reveal=true");
        Assert.Contains(revealed.GetProperty("items").EnumerateArray(), i => i.GetProperty("key").GetString() == "db.password" && i.GetProperty("value").GetString() == "s3cret-value");

        // vic: masked, no Reveal; nothing on the page holds the value.
        await SignOutAndInAsync(page, "vic");
        await Expect(row).ToContainTextAsync("******");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Reveal db.password" })).ToHaveCountAsync(0);
        Assert.DoesNotContain("s3cret-value", await page.ContentAsync(), StringComparison.Ordinal);

        // sam holds reveal: Reveal shows the value, Hide masks it again.
        await SignOutAndInAsync(page, "sam");
        await Expect(row).ToContainTextAsync("******");
        await page.GetByRole(AriaRole.Button, new() { Name = "Reveal db.password" }).ClickAsync();
        await Expect(row.GetByTestId("revealed-db.password")).ToHaveTextAsync("s3cret-value");
        await ScreenAsync(page, "secret-revealed");
        await row.GetByRole(AriaRole.Button, new() { Name = "Hide db.password" }).ClickAsync();
        await Expect(row).ToContainTextAsync("******");
        await Expect(row).Not.ToContainTextAsync("s3cret-value");
        await Expect(row.GetByRole(AriaRole.Button, new() { Name = "Reveal db.password" })).ToBeVisibleAsync();
    });

    [Fact]
    public Task Text_mode_of_properties_waits_for_reveal_when_there_are_secret_items() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("textsecret");
        using var olivia = await auth.AsAsync("olivia");
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/items/token", new { value = "s3cr3t", secret = true });

        // Text mode would put every value in a textarea: with a secret item it is off until the secret is revealed.
        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await SignInAsync(page, "olivia");
        var toggle = page.GetByRole(AriaRole.Button, new() { Name = "Edit as text" });
        await Expect(toggle).ToBeDisabledAsync();
        await Expect(page.GetByTestId("text-mode-note")).ToHaveTextAsync("Text mode shows every value: reveal a secret item first.");
        Assert.DoesNotContain("s3cr3t", await page.ContentAsync(), StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Button, new() { Name = "Reveal token" }).ClickAsync();
        await Expect(toggle).ToBeEnabledAsync();
        await toggle.ClickAsync();
        var text = page.GetByLabel("Working copy as text (key=value; # comment above its key)");
        await Expect(text).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("token=s3cr3t"));

        // Saved from text, the item stays secret.
        await text.FillAsync("port=9090\ntoken=s3cr3t\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save text" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the working copy from text: 2 items (not published yet)");
        var stored = await olivia.SendAsync(HttpMethod.Get, ns);
        Assert.Contains(stored.GetProperty("items").EnumerateArray(), i => i.GetProperty("key").GetString() == "token" && i.GetProperty("secret").GetBoolean());

        // vic may not edit: no text mode at all.
        await SignOutAndInAsync(page, "vic");
        await Expect(page.GetByTestId("read-only")).ToBeVisibleAsync();
        await Expect(toggle).ToHaveCountAsync(0);
    });

    [Fact]
    public Task Owner_creates_a_credential_sees_the_key_once_and_revokes_it() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("cred");
        using var olivia = await auth.AsAsync("olivia");
        await olivia.PublishAsync(ns, "r1");

        await page.GotoAsync($"/#/apps/{app}?view=credentials&env=PRO");
        await SignInAsync(page, "olivia");
        await page.GetByLabel("Credential name").FillAsync("pods");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create credential" }).ClickAsync();
        var shown = page.GetByRole(AriaRole.Status, new() { Name = "New access key" });
        await Expect(shown).ToContainTextAsync("shown only this once");
        var key = await shown.GetByTestId("access-key").TextContentAsync();
        Assert.NotNull(key);
        Assert.Equal(56, key!.Length);
        var id = key[..key.IndexOf('.', StringComparison.Ordinal)];
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Credentials" });
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = id })).ToContainTextAsync("…" + key[^4..]);
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = id })).ToContainTextAsync("active");
        await ScreenAsync(page, "credential-once");

        // The key works for a client of the app, and it is never shown again.
        using (var client = new HttpClient { BaseAddress = new Uri(auth.BaseUrl) })
        {
            client.DefaultRequestHeaders.Add("conclave-access-key", key);
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync(new Uri($"/api/v1/apps/{app}/envs/PRO/namespaces/application/effective?instanceId=pod-1", UriKind.Relative))).StatusCode);
        }

        await shown.GetByRole(AriaRole.Button, new() { Name = "I have copied it" }).ClickAsync();
        await Expect(shown).ToHaveCountAsync(0);
        await page.ReloadAsync();
        await Expect(table).ToContainTextAsync(id);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke {id}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = id })).ToContainTextAsync("revoked");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = $"Revoke {id}" })).ToHaveCountAsync(0);
        var list = await olivia.SendAsync(HttpMethod.Get, $"/api/v1/apps/{app}/envs/PRO/credentials");
        Assert.False(Assert.Single(list.EnumerateArray()).GetProperty("active").GetBoolean());

        // Not a manager: no credentials at all.
        await SignOutAndInAsync(page, "vic");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Credentials in PRO" })).ToBeVisibleAsync();
        await Expect(table).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Create credential" })).ToHaveCountAsync(0);
    });

    [Fact]
    public Task Owner_manages_grants_and_admins_on_the_access_page() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("access");
        using var ed = await auth.AsAsync("ed");

        await page.GotoAsync($"/#/apps/{app}?view=access");
        await SignInAsync(page, "olivia");
        await Expect(page.GetByTestId("owner")).ToHaveTextAsync("olivia");
        var grantForm = page.GetByRole(AriaRole.Form, new() { Name = "New grant" });
        await grantForm.GetByLabel("User or role name").FillAsync("ed");
        await grantForm.GetByLabel("Permission").SelectOptionAsync("edit");
        await grantForm.GetByLabel("Environment").SelectOptionAsync("PRO");
        await grantForm.GetByLabel("Namespace").FillAsync("application");
        await grantForm.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Granted edit to user:ed");
        var grants = page.GetByRole(AriaRole.Table, new() { Name = "Grants" });
        await Expect(grants.GetByRole(AriaRole.Row).Filter(new() { HasText = "user:ed" })).ToContainTextAsync("editPROapplication");
        await ed.SendAsync(HttpMethod.Put, $"{ns}/items/port", new { value = "1" });

        var adminForm = page.GetByRole(AriaRole.Form, new() { Name = "New admin" });
        await adminForm.GetByLabel("Kind").SelectOptionAsync("role");
        await adminForm.GetByLabel("User or role name").FillAsync("platform");
        await adminForm.GetByRole(AriaRole.Button, new() { Name = "Add admin" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Admins" })).ToContainTextAsync("role:platform");
        await ScreenAsync(page, "app-access");

        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke edit from user:ed on PRO/application" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Revoked edit from user:ed");
        await Expect(grants).ToHaveCountAsync(0);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ed.SendAsync(HttpMethod.Put, $"{ns}/items/port", new { value = "2" }));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        // Not a manager: the same page, without the forms.
        await SignOutAndInAsync(page, "vic");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Admins" })).ToContainTextAsync("role:platform");
        await Expect(page.GetByRole(AriaRole.Form, new() { Name = "New grant" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Form, new() { Name = "New admin" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Remove admin role:platform" })).ToHaveCountAsync(0);
    });

    [Fact]
    public Task Who_edited_may_not_publish_when_the_policy_separates_editing_from_releasing() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("separate");
        using var olivia = await auth.AsAsync("olivia");
        await olivia.PublishAsync(ns, "baseline");
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/policy", new { separateEditAndRelease = true });
        foreach (var permission in new[] { "edit", "release" })
        {
            await GrantAsync(olivia, app, "user:rel", permission, "PRO", "application");
        }

        await GrantAsync(olivia, app, "user:rita", "release", "PRO", "application");

        // rel edits, so the page shows Publish disabled with the reason.
        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await SignInAsync(page, "rel");
        await Expect(page.Locator(".summary")).ToContainTextAsync("editors may not publish");
        await page.GetByLabel("Key", new() { Exact = true }).FillAsync("port");
        await page.GetByLabel("Value", new() { Exact = true }).FillAsync("9090");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save item" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved port (not published yet)");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" })).ToBeDisabledAsync();
        await Expect(page.GetByText("someone else must publish it")).ToBeVisibleAsync();
        await Tab(page, "Policy").ClickAsync();
        await Expect(page.GetByRole(AriaRole.List, new() { Name = "Editors since the last release" })).ToHaveTextAsync("rel");

        // rita did not edit: she publishes.
        await SignOutAndInAsync(page, "rita");
        await Tab(page, "Edit").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r2");
    });

    /// <summary>
    /// "Secrets masked on every page": a secret item published, changed and published again, then changed and shipped to
    /// a gray release, and in a second namespace (which requires approval) changed and filed as a release request. For
    /// vic (no reveal) and sam (reveal), the releases page with a release diff and the history, the gray release view,
    /// the approval request with its diff and the audit page never hold a plaintext value: not in the page's HTML, its
    /// text, its form fields, nor in any answer of the API the page received. Only the item table offers Reveal, and
    /// only sam gets the value from it.
    /// </summary>
    [Fact]
    public Task Secrets_are_masked_on_every_page_and_revealed_only_in_the_item_table() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        string[] secrets = ["pw-one-7Qx", "pw-two-8Ry", "pw-three-9Sz", "apw-one-1Ab", "apw-two-2Bc"];
        var (app, ns) = await NamespaceAsync("masked");
        using var olivia = await auth.AsAsync("olivia");
        await GrantAsync(olivia, app, "user:sam", "reveal", "PRO", null);
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/items/db.password", new { value = secrets[0], secret = true });
        await olivia.PublishAsync(ns, "first");
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/items/db.password", new { value = secrets[1], secret = true });
        await olivia.PublishAsync(ns, "second");
        await olivia.SendAsync(HttpMethod.Put, $"{ns}/items/db.password", new { value = secrets[2], secret = true });
        var gray = await olivia.SendAsync(HttpMethod.Post, $"{ns}/gray", new { rule = new { instanceIds = new[] { "pod-a" } }, title = "gray" });
        var grayId = gray.GetProperty("id").GetInt64();

        await olivia.SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs/PRO/namespaces", new { name = "db", format = "properties" });
        var db = $"/api/v1/apps/{app}/envs/PRO/namespaces/db";
        await olivia.SendAsync(HttpMethod.Put, $"{db}/items/password", new { value = secrets[3], secret = true });
        await olivia.PublishAsync(db, "first");
        await olivia.SendAsync(HttpMethod.Put, $"{db}/policy", new { separateEditAndRelease = false, requireApproval = true });
        await olivia.SendAsync(HttpMethod.Put, $"{db}/items/password", new { value = secrets[4], secret = true });
        await olivia.SendAsync(HttpMethod.Post, $"{db}/releases", new { title = "rotate the password" });

        // Every answer of the API the page gets, to search as well as the page.
        var answers = new List<(string Url, Task<string> Body)>();
        page.Response += (_, r) =>
        {
            // Server-sent events never end: what they carry is searched on the page when shown.
            if (r.Url.Contains("/api/v1/", StringComparison.Ordinal) && !(r.Headers.TryGetValue("content-type", out var type) && type.StartsWith("text/event-stream", StringComparison.Ordinal)))
            {
                lock (answers)
                {
                    answers.Add((r.Url, r.TextAsync()));
                }
            }
        };

        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=releases");
        await SignInAsync(page, "vic");
        foreach (var user in (string[])["vic", "sam"])
        {
            if (user == "sam")
            {
                await SignOutAndInAsync(page, "sam");
            }

            await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=releases");
            var releases = page.GetByRole(AriaRole.Table, new() { Name = "Releases" });
            await Expect(releases).ToContainTextAsync("second");
            await page.GetByLabel("Diff from r1").CheckAsync();
            await page.GetByLabel($"Diff to r{grayId}").CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Diff selected releases" }).ClickAsync();
            var diff = page.GetByRole(AriaRole.Table, new() { Name = $"Differences from r1 to r{grayId}" });
            await Expect(diff).ToContainTextAsync("db.password");
            await Expect(diff).ToContainTextAsync("******");
            await Expect(page.GetByRole(AriaRole.Table, new() { Name = "History" })).ToContainTextAsync($"r{grayId}");
            await NoPlaintextAsync(page, answers, $"{user}: releases, diff and history", secrets);

            await Tab(page, "Gray release").ClickAsync();
            await Expect(page.GetByTestId("goes-to")).ToContainTextAsync("pod-a");
            await NoPlaintextAsync(page, answers, $"{user}: gray release", secrets);

            await page.GotoAsync($"/#/apps/{app}/PRO/db?tab=requests");
            var request = page.GetByRole(AriaRole.Region, new() { Name = "Release request 1" });
            await Expect(request.GetByRole(AriaRole.Table, new() { Name = "Changes in Release request 1" })).ToContainTextAsync("password");
            await NoPlaintextAsync(page, answers, $"{user}: approval request", secrets);

            await page.GotoAsync($"/#/audit?app={app}");
            var audit = page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" });
            await Expect(audit).ToContainTextAsync("db.password");
            await Expect(audit).ToContainTextAsync("release.");
            await NoPlaintextAsync(page, answers, $"{user}: audit", secrets);

            await page.GotoAsync($"/#/apps/{app}/PRO/application");
            var row = page.GetByRole(AriaRole.Table, new() { Name = "Items" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "db.password" });
            await Expect(row).ToContainTextAsync("******");
            await NoPlaintextAsync(page, answers, $"{user}: items", secrets);
        }

        // The owner's confirmation of a promotion shows the diff it ships, masked as well.
        await SignOutAndInAsync(page, "olivia");
        await Tab(page, "Gray release").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = $"Promote r{grayId} to main" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog.GetByRole(AriaRole.Table, new() { Name = "Changes shipped" })).ToContainTextAsync("db.password");
        await NoPlaintextAsync(page, answers, "olivia: promotion dialog", secrets);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();

        // sam, who holds reveal, gets the value where the console offers Reveal: the item table.
        await SignOutAndInAsync(page, "sam");
        await Tab(page, "Edit").ClickAsync();
        var items = page.GetByRole(AriaRole.Table, new() { Name = "Items" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "db.password" });
        await items.GetByRole(AriaRole.Button, new() { Name = "Reveal db.password" }).ClickAsync();
        await Expect(items.GetByTestId("revealed-db.password")).ToHaveTextAsync(secrets[2]);

        // The search finds a value where there is one (so its silence above means something).
        await Assert.ThrowsAsync<Xunit.Sdk.FalseException>(() => NoPlaintextAsync(page, answers, "sam: revealed item", secrets));
    });

    /// <summary>Fails when the page (HTML, text, form fields) or an API answer it received holds one of <paramref name="secrets"/>.</summary>
    private async Task NoPlaintextAsync(IPage page, List<(string Url, Task<string> Body)> answers, string where, string[] secrets)
    {
        var html = await page.ContentAsync();
        var text = await page.EvaluateAsync<string>("() => document.body.innerText + '\\n' + [...document.querySelectorAll('input, textarea, select')].map(e => e.value).join('\\n')");
        List<(string Url, Task<string> Body)> received;
        lock (answers)
        {
            received = [.. answers];
            answers.Clear();
        }

        foreach (var secret in secrets)
        {
            Assert.False(html.Contains(secret, StringComparison.Ordinal), $"{where}: the page's HTML holds the secret value {secret}");
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{where}: the page's text holds the secret value {secret}");
            foreach (var (url, body) in received)
            {
                string answer;
                try
                {
                    answer = await body.WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is PlaywrightException or TimeoutException)
                {
                    continue; // a redirect or an answer the page left before it was read: nothing it showed
                }

                Assert.False(answer.Contains(secret, StringComparison.Ordinal), $"{where}: the answer of {url} holds the secret value {secret}");
            }
        }

        Output.WriteLine($"{where}: no plaintext in the page or in {received.Count} API answers");
    }

    [Fact]
    public Task Owner_deletes_a_namespace_from_its_policy_tab() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        var (app, ns) = await NamespaceAsync("delete");
        using var olivia = await auth.AsAsync("olivia");

        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=policy");
        await SignInAsync(page, "olivia");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete application" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Deleted namespace application");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Namespaces in PRO" })).ToBeVisibleAsync();
        await Expect(page.GetByText("No namespaces yet.")).ToBeVisibleAsync();
        var gone = await Assert.ThrowsAsync<HttpRequestException>(() => olivia.SendAsync(HttpMethod.Get, ns));
        Assert.Contains("404", gone.Message, StringComparison.Ordinal);
    });

    /// <summary>olivia's app with PRO/application (properties) holding port=8080; returns the app and the namespace's API path.</summary>
    private async Task<(string App, string Ns)> NamespaceAsync(string prefix)
    {
        var app = NewName(prefix);
        using var olivia = await auth.AsAsync("olivia");
        var ns = await olivia.NamespaceAsync(app, "PRO", "application", "properties");
        await olivia.SetItemAsync(ns, "port", "8080");
        return (app, ns);
    }

    [Fact]
    public Task Only_root_changes_the_center_settings_from_the_settings_page() => InBrowserAsync(auth.BaseUrl, async page =>
    {
        using var root = await auth.AsAsync("root");
        try
        {
            // sam is no root: the page shows the settings, and saving them shows the member's refusal.
            await page.GotoAsync("/#/settings");
            await SignInAsync(page, "sam");
            await page.GetByLabel("Audit retention in days (0 keeps everything)").FillAsync("30");
            await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "root" })).ToBeVisibleAsync();
            Assert.Equal(0, (await root.SendAsync(HttpMethod.Get, "/api/v1/settings")).GetProperty("auditRetentionDays").GetInt32());

            await SignOutAndInAsync(page, "root");
            await page.GetByLabel("May create apps", new() { Exact = false }).FillAsync("role:platform\nuser:olivia");
            await page.GetByLabel("Audit retention in days (0 keeps everything)").FillAsync("30");
            await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
            await Expect(page.GetByText("Settings saved.")).ToBeVisibleAsync();
            await Expect(page.GetByLabel("Audit retention in days (0 keeps everything)")).ToHaveValueAsync("30");
            var saved = await root.SendAsync(HttpMethod.Get, "/api/v1/settings");
            Assert.Equal(30, saved.GetProperty("auditRetentionDays").GetInt32());
            Assert.Equal(["role:platform", "user:olivia"], saved.GetProperty("appCreators").EnumerateArray().Select(x => x.GetString()));
            await ScreenAsync(page, "settings");
        }
        finally
        {
            await root.SendAsync(HttpMethod.Put, "/api/v1/settings", new { appCreators = Array.Empty<string>(), auditRetentionDays = 0 });
        }
    });

    private static Task GrantAsync(HttpClient http, string app, string subject, string permission, string? env, string? ns) =>
        http.SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/access/grants", new { subject, permission, env, @namespace = ns });

    private static async Task SignInAsync(IPage page, string user)
    {
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await page.GetByLabel("User").FillAsync(user);
        await page.GetByLabel("Password").FillAsync(user + "pw");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync(user);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToHaveCountAsync(0);
    }

    /// <summary>Signs out and back in as <paramref name="user"/>; the console returns to the same page.</summary>
    private static async Task SignOutAndInAsync(IPage page, string user)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await SignInAsync(page, user);
    }
}

using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Who may change what (ADR 0015), decided by the center itself: every change × every kind of actor, allowed or refused
/// with PermissionDenied and nothing changed; grants scoped to an environment and namespace; roles as subjects; Apollo's
/// "the person who edits may not publish"; refusals audited; and a grant revoked between the decision and the write
/// stops the write (the decision is pinned in the change's transaction).
/// </summary>
public sealed class AccessTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    private static readonly ChangeContext Setup = new("setup");

    private static ChangeContext Signed(string name, params string[] roles) => new(name, "test") { Enforced = true, Roles = roles };

    private static readonly ChangeContext Owner = Signed("olivia");
    private static readonly ChangeContext Admin = Signed("adam");
    private static readonly ChangeContext RoleAdmin = Signed("rita", "platform");
    private static readonly ChangeContext Editor = Signed("ed", "editors");
    private static readonly ChangeContext Releaser = Signed("rel");
    private static readonly ChangeContext Viewer = Signed("vic", "staff");
    private static readonly ChangeContext Root = new("root", "test") { Enforced = true, IsAdmin = true };

    /// <summary>An app owned by olivia with PRO/application (released once) and PRO/other; adam and role platform admins;
    /// role editors may edit PRO/application, rel may release anything in PRO.</summary>
    private async Task<string> NewAppAsync()
    {
        var app = "acc-" + Guid.NewGuid().ToString("N")[..10];
        await Center.CreateAppAsync(app, null, Owner.Author, Setup);
        await Center.CreateEnvironmentAsync(app, "PRO", Setup);
        await Center.CreateNamespaceAsync(app, "PRO", "application", NamespaceFormat.Properties, null, Setup);
        await Center.CreateNamespaceAsync(app, "PRO", "other", NamespaceFormat.Properties, null, Setup);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "8080"), 0, Setup);
        await Center.PublishAsync(app, "PRO", "application", "r1", null, 0, Setup);
        await Center.Access.AddAdminAsync(Owner, app, "user:adam", default);
        await Center.Access.AddAdminAsync(Owner, app, "role:platform", default);
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("role:editors", ConfigPermission.Edit, "PRO", "application"), default);
        await Center.Access.GrantAsync(Admin, app, new AccessGrant("user:rel", ConfigPermission.Release, "PRO"), default);
        return app;
    }

    public static TheoryData<string> Actions => new() { "set-item", "delete-item", "set-content-other", "set-schema", "publish", "rollback", "gray", "create-env", "create-ns", "delete-ns", "grant", "policy", "delete-app", "set-owner" };

    /// <summary>Which actors may do each action (root may do all of them).</summary>
    private static readonly Dictionary<string, ChangeContext[]> Allowed = new()
    {
        ["set-item"] = [Owner, Admin, RoleAdmin, Editor],
        ["delete-item"] = [Owner, Admin, RoleAdmin, Editor],
        ["set-content-other"] = [Owner, Admin, RoleAdmin], // the editors' grant is for PRO/application only
        ["set-schema"] = [Owner, Admin, RoleAdmin, Editor],
        ["publish"] = [Owner, Admin, RoleAdmin, Releaser],
        ["rollback"] = [Owner, Admin, RoleAdmin, Releaser],
        ["gray"] = [Owner, Admin, RoleAdmin, Releaser],
        ["create-env"] = [Owner, Admin, RoleAdmin],
        ["create-ns"] = [Owner, Admin, RoleAdmin],
        ["delete-ns"] = [Owner, Admin, RoleAdmin],
        ["grant"] = [Owner, Admin, RoleAdmin],
        ["policy"] = [Owner, Admin, RoleAdmin],
        ["delete-app"] = [Owner],
        ["set-owner"] = [Owner],
    };

    private async Task RunAsync(string action, string app, ChangeContext who)
    {
        switch (action)
        {
            case "set-item": await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "9090"), 0, who); break;
            case "delete-item": await Center.DeleteItemAsync(app, "PRO", "application", "port", 0, who); break;
            case "set-content-other": await Center.SetItemAsync(app, "PRO", "other", new ConfigItem("k", "v"), 0, who); break;
            case "set-schema": await Center.SetSchemaAsync(app, "PRO", "application", null, 0, who); break;
            case "publish": await Center.PublishAsync(app, "PRO", "application", "r", null, 0, who); break;
            case "rollback": await Center.RollbackAsync(app, "PRO", "application", 1, null, 0, who); break;
            case "gray": await Center.GrayPublishAsync(app, "PRO", "application", new GrayRule { Percentage = 10 }, "g", null, 0, who); break;
            case "create-env": await Center.CreateEnvironmentAsync(app, "UAT", who); break;
            case "create-ns": await Center.CreateNamespaceAsync(app, "PRO", "added", NamespaceFormat.Json, null, who); break;
            case "delete-ns": await fixture.Removal.DeleteNamespaceAsync(app, "PRO", "other", false, who); break;
            case "grant": await Center.Access.GrantAsync(who, app, new AccessGrant("user:vic", ConfigPermission.Edit), default); break;
            case "policy": await Center.SetPolicyAsync(app, "PRO", "application", true, who); break;
            case "delete-app": await fixture.Removal.DeleteAppAsync(app, who); break;
            case "set-owner": await Center.Access.SetOwnerAsync(who, app, "vic", default); break;
            default: throw new ArgumentOutOfRangeException(nameof(action), action, null);
        }
    }

    [Theory]
    [MemberData(nameof(Actions))]
    public async Task Each_change_is_allowed_to_exactly_the_actors_the_model_says_and_a_refusal_changes_nothing(string action)
    {
        foreach (var who in new[] { Owner, Admin, RoleAdmin, Editor, Releaser, Viewer, Root })
        {
            var app = await NewAppAsync();
            if (action == "delete-app")
            {
                // An app goes once it has no environments left.
                await fixture.Removal.DeleteNamespaceAsync(app, "PRO", "application", true, Setup);
                await fixture.Removal.DeleteNamespaceAsync(app, "PRO", "other", true, Setup);
                await fixture.Removal.DeleteEnvironmentAsync(app, "PRO", Setup);
            }

            var before = await SnapshotAsync(app);
            var allowed = who == Root || Allowed[action].Contains(who);
            if (allowed)
            {
                await RunAsync(action, app, who);
                continue;
            }

            var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => RunAsync(action, app, who));
            Assert.True(refused.Kind == ConfigErrorKind.PermissionDenied, $"{action} by {who.Author}: {refused.Kind}: {refused.Message}");
            Assert.Contains(who.Author, refused.Message, StringComparison.Ordinal);
            Assert.Equal(before, await SnapshotAsync(app));

            // The refusal is in the app's audit, under the actor's name.
            var audit = await Center.AuditAsync(app, 5);
            Assert.Contains(audit, e => e.Author == who.Author && e.Action == "denied");
        }
    }

    /// <summary>Everything a refused change could have touched, as text: the app and access records and each namespace record.</summary>
    private async Task<string> SnapshotAsync(string app)
    {
        var store = Center.Store;
        var parts = new List<string>();
        foreach (var prefix in new[] { ConfigKeys.App(app), ConfigKeys.Access(app), ConfigKeys.Environments(app), ConfigKeys.Namespaces(app, "PRO"), ConfigKeys.Releases(app, "PRO", "application") })
        {
            var range = await store.Port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix) });
            parts.AddRange(range.Kvs.Select(kv => $"{kv.Key.ToStringUtf8()}@{kv.ModRevision}"));
        }

        return string.Join('\n', parts);
    }

    [Fact]
    public async Task Whoever_edited_since_the_last_release_may_not_publish_it_when_the_namespace_separates_them()
    {
        var app = await NewAppAsync();
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("user:both", ConfigPermission.Edit), default);
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("user:both", ConfigPermission.Release), default);
        var both = Signed("both");

        // Off (the default): the editor publishes their own edit.
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("a", "1"), 0, both);
        await Center.PublishAsync(app, "PRO", "application", "own", null, 0, both);

        await Center.SetPolicyAsync(app, "PRO", "application", true, Owner);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("a", "2"), 0, both);
        Assert.Equal(["both"], (await Center.GetNamespaceAsync(app, "PRO", "application")).Editors);
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.PublishAsync(app, "PRO", "application", "own again", null, 0, both).AsTask());
        Assert.Equal(ConfigErrorKind.PermissionDenied, refused.Kind);
        Assert.Contains("separates editing from releasing", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ConfigCenterException>(() => Center.GrayPublishAsync(app, "PRO", "application", new GrayRule { InstanceIds = ["i-1"] }, "g", null, 0, both).AsTask());

        // Someone else with release publishes it; the list starts again, so the first editor may publish a later edit by another.
        var release = await Center.PublishAsync(app, "PRO", "application", "four eyes", null, 0, Releaser);
        Assert.Equal("2", release.Configurations["a"]);
        Assert.Empty((await Center.GetNamespaceAsync(app, "PRO", "application")).Editors);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("a", "3"), 0, Editor);
        await Center.PublishAsync(app, "PRO", "application", "edited by ed", null, 0, both);
    }

    [Fact]
    public async Task With_approval_required_a_publish_is_a_request_that_another_releaser_approves_with_the_content_requested()
    {
        var app = await NewAppAsync();
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("user:rel2", ConfigPermission.Release, "PRO"), default);
        var rel2 = Signed("rel2");
        await Center.SetPolicyAsync(app, "PRO", "application", false, requireApproval: true, Owner);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "9090"), 0, Editor);

        // A direct publish, gray publish or promote is refused; publish files a request (release permission needed to ask).
        Assert.Equal(ConfigErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.PublishAsync(app, "PRO", "application", "x", null, 0, Releaser).AsTask())).Kind);
        Assert.Equal(ConfigErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.GrayPublishAsync(app, "PRO", "application", new GrayRule { Percentage = 50 }, "g", null, 0, Releaser).AsTask())).Kind);
        Assert.Equal(ConfigErrorKind.PermissionDenied, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.PublishOrRequestAsync(app, "PRO", "application", "x", null, 0, Editor).AsTask())).Kind);
        var outcome = await Center.PublishOrRequestAsync(app, "PRO", "application", "port 9090", "please", 0, Releaser);
        Assert.Null(outcome.Release);
        var request = outcome.Request!;
        Assert.Equal(ReleaseRequestStatus.Pending, request.Status);
        Assert.Equal(1, (await Center.LatestReleaseAsync(app, "PRO", "application")).Id); // nothing shipped

        // The approver sees what would change; the requester may not approve; a viewer may not either.
        var (_, diff) = await Center.GetRequestAsync(app, "PRO", "application", request.Id);
        Assert.Equal([new DiffEntry("port", DiffChange.Changed, "8080", "9090")], diff);
        Assert.Equal(ConfigErrorKind.PermissionDenied, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.ApproveAsync(app, "PRO", "application", request.Id, null, Releaser).AsTask())).Kind);
        Assert.Equal(ConfigErrorKind.PermissionDenied, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.ApproveAsync(app, "PRO", "application", request.Id, null, Viewer).AsTask())).Kind);

        var release = await Center.ApproveAsync(app, "PRO", "application", request.Id, "looks right", rel2);
        Assert.Equal(2, release.Id);
        Assert.Equal("9090", release.Configurations["port"]);
        Assert.Equal("rel", release.Author);
        Assert.Equal("rel2", release.ApprovedBy);
        Assert.Equal(2, (await fixture.Delivery.FetchAsync(app, "PRO", "application", "i-1", [])).Release.Id);
        var decided = (await Center.GetRequestAsync(app, "PRO", "application", request.Id)).Request;
        Assert.Equal((ReleaseRequestStatus.Approved, "rel2", (long?)2), (decided.Status, decided.DecidedBy, decided.ReleaseId));
        Assert.Equal(ConfigErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<ConfigCenterException>(() => Center.RejectAsync(app, "PRO", "application", request.Id, null, rel2).AsTask())).Kind);

        // A request whose working copy changed afterwards cannot be approved (the approver would ship something else than
        // they reviewed); it is rejected, and nothing shipped.
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "7070"), 0, Editor);
        var second = (await Center.PublishOrRequestAsync(app, "PRO", "application", "7070", null, 0, Releaser)).Request!;
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "6060"), 0, Editor);
        var stale = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.ApproveAsync(app, "PRO", "application", second.Id, null, rel2).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, stale.Kind);
        Assert.Contains("changed since release request", stale.Message, StringComparison.Ordinal);
        var rejected = await Center.RejectAsync(app, "PRO", "application", second.Id, "stale", rel2);
        Assert.Equal(ReleaseRequestStatus.Rejected, rejected.Status);
        Assert.Equal(2, (await Center.LatestReleaseAsync(app, "PRO", "application")).Id);
        Assert.Equal([second.Id, request.Id], (await Center.ListRequestsAsync(app, "PRO", "application", null)).Select(r => r.Id));
        Assert.Equal([request.Id], (await Center.ListRequestsAsync(app, "PRO", "application", ReleaseRequestStatus.Approved)).Select(r => r.Id));
    }

    [Fact]
    public async Task Two_approvals_of_one_request_racing_ship_it_once()
    {
        var app = await NewAppAsync();
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("role:releasers", ConfigPermission.Release), default);
        await Center.SetPolicyAsync(app, "PRO", "application", false, requireApproval: true, Owner);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "9090"), 0, Editor);
        var request = (await Center.PublishOrRequestAsync(app, "PRO", "application", "r", null, 0, Releaser)).Request!;
        var approvals = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            try
            {
                return (await Center.ApproveAsync(app, "PRO", "application", request.Id, null, Signed($"a{i}", "releasers"))).Id;
            }
            catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.FailedPrecondition)
            {
                return 0L;
            }
        })).ToList();
        var shipped = (await Task.WhenAll(approvals)).Where(id => id > 0).ToList();
        Assert.Single(shipped);
        Assert.Equal(2, (await Center.LatestReleaseAsync(app, "PRO", "application")).Id);
        Assert.Equal(2, (await Center.ListReleasesAsync(app, "PRO", "application")).Count);
    }

    [Fact]
    public async Task Only_the_listed_roles_create_apps_once_root_lists_them()
    {
        var first = "acc-" + Guid.NewGuid().ToString("N")[..10];
        await Center.CreateAppAsync(first, null, null, Viewer); // nobody listed: every signed-in user
        Assert.Equal("vic", (await Center.GetAppAsync(first)).Owner);

        var denied = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.Access.SetSettingsAsync(Owner, new ConfigSettings { AppCreators = ["role:creators"] }, default).AsTask());
        Assert.Equal(ConfigErrorKind.PermissionDenied, denied.Kind);
        await Center.Access.SetSettingsAsync(Root, new ConfigSettings { AppCreators = ["role:creators"] }, default);
        try
        {
            var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.CreateAppAsync("acc-" + Guid.NewGuid().ToString("N")[..10], null, null, Viewer).AsTask());
            Assert.Equal(ConfigErrorKind.PermissionDenied, refused.Kind);
            var app = "acc-" + Guid.NewGuid().ToString("N")[..10];
            await Center.CreateAppAsync(app, null, "vic", Signed("carl", "creators"));

            // Created for someone else: the creator stays an admin of it.
            Assert.Equal(["user:carl"], (await Center.Access.GetAsync(app, default)).Admins);
            await Center.CreateEnvironmentAsync(app, "DEV", Signed("carl", "creators"));
        }
        finally
        {
            await Center.Access.SetSettingsAsync(Root, new ConfigSettings(), default);
        }
    }

    [Fact]
    public async Task A_grant_revoked_between_the_decision_and_the_write_stops_the_write()
    {
        var app = await NewAppAsync();
        var node = fixture.Node.Server.Node;
        var real = new LocalKeyValuePort(node, new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance));
        var revoked = false;

        // The editor's change is decided (grant present), then the owner revokes the grant before the change's
        // transaction reaches the log: the transaction must fail and the change be decided again — refused.
        var port = new BeforeTxnPort(real, async () =>
        {
            if (!revoked)
            {
                revoked = true;
                await new ConfigCenterService(real).Access.RevokeAsync(Owner, app, new AccessGrant("role:editors", ConfigPermission.Edit, "PRO", "application"), default);
            }
        });
        var center = new ConfigCenterService(port);
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "1"), 0, Editor).AsTask());
        Assert.Equal(ConfigErrorKind.PermissionDenied, refused.Kind);
        Assert.True(revoked);
        Assert.Equal("8080", (await Center.GetNamespaceAsync(app, "PRO", "application")).Items.Single(i => i.Key == "port").Value);
    }

    [Fact]
    public async Task Grants_and_subjects_are_checked_and_unknown_ones_refused_clearly()
    {
        var app = await NewAppAsync();
        foreach (var subject in new[] { "alice", "group:x", "user:", "role:", "user:" + new string('a', 129), "user:a\nb" })
        {
            var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.Access.GrantAsync(Owner, app, new AccessGrant(subject, ConfigPermission.Edit), default).AsTask());
            Assert.Equal(ConfigErrorKind.InvalidArgument, refused.Kind);
        }

        var badEnv = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.Access.GrantAsync(Owner, app, new AccessGrant("user:x", ConfigPermission.Edit, "P/RO"), default).AsTask());
        Assert.Equal(ConfigErrorKind.InvalidArgument, badEnv.Kind);
        var missing = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.Access.RevokeAsync(Owner, app, new AccessGrant("user:nobody", ConfigPermission.Edit), default).AsTask());
        Assert.Equal(ConfigErrorKind.NotFound, missing.Kind);

        // Granting twice is one grant.
        await Center.Access.GrantAsync(Owner, app, new AccessGrant("user:x", ConfigPermission.Reveal), default);
        var view = await Center.Access.GrantAsync(Owner, app, new AccessGrant("user:x", ConfigPermission.Reveal), default);
        Assert.Single(view.Grants, g => g.Subject == "user:x");
    }

    [Fact]
    public async Task With_auth_disabled_nothing_is_checked()
    {
        var app = await NewAppAsync();
        var anyone = new ChangeContext("anyone");
        await Center.SetItemAsync(app, "PRO", "other", new ConfigItem("k", "v"), 0, anyone);
        await Center.PublishAsync(app, "PRO", "other", "r", null, 0, anyone);
        await Center.Access.GrantAsync(anyone, app, new AccessGrant("user:z", ConfigPermission.Edit), default);
        Assert.Equal(new NamespacePermissions(true, true, true, true), await Center.Access.PermissionsAsync(anyone, app, "PRO", "other", default));
        Assert.Equal(new NamespacePermissions(true, false, false, false), await Center.Access.PermissionsAsync(Editor, app, "PRO", "application", default));
    }

    /// <summary>Runs <paramref name="before"/> ahead of every transaction the center sends.</summary>
    private sealed class BeforeTxnPort(IKeyValuePort inner, Func<Task> before) : IKeyValuePort
    {
        public ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default) => inner.RangeAsync(request, cancellationToken);

        public async ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default)
        {
            await before();
            return await inner.TxnAsync(request, cancellationToken);
        }

        public IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, CancellationToken cancellationToken = default) => inner.WatchAsync(prefix, fromRevision, cancellationToken);

        public ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default) => inner.GrantLeaseAsync(ttlSeconds, cancellationToken);

        public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default) => inner.KeepAliveAsync(leaseId, cancellationToken);
    }
}

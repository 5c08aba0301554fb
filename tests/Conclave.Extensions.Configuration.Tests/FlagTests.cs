using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Conclave.Client;
using Conclave.Extensions.Configuration.Internal;
using Conclave.Flags;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// Flags namespaces through the provider against a real member: the typed API and Microsoft.FeatureManagement's
/// IFeatureManager give the same answers, live after a publish (docs/configuration-provider.md, "Feature flags").
/// </summary>
public sealed class FlagProviderTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = Eventually.DefaultTimeout;

    [Fact]
    public async Task A_published_flag_change_reaches_IFeatureManager_and_the_typed_API_live()
    {
        using var admin = await fixture.NewAppAsync(("features", "flags"));
        await PublishAsync(admin, "features", Boolean("Checkout.NewFlow", enabled: false, """[{"users": ["alice"], "variant": "on"}]"""));
        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "features"));
        await using var provider = root.Provider();
        await using var services = Services(root);
        var features = services.GetRequiredService<IFeatureManager>();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();
        var alice = new TargetingContext { UserId = "alice" };

        Assert.False(await features.IsEnabledAsync("Checkout.NewFlow", alice));
        var before = await flags.GetBooleanAsync("Checkout.NewFlow", true, new FlagContext { TargetingKey = "alice" });
        Assert.Equal((false, "off", FlagReason.Disabled), (before.Value, before.Variant, before.Reason));

        var changes = new ConcurrentQueue<ConclaveFlagsChangedEventArgs>();
        flags.Changed += (_, e) => changes.Enqueue(e);
        await ProviderTests.WaitConnectedAsync(provider);
        await PublishAsync(admin, "features", Boolean("Checkout.NewFlow", enabled: true, """[{"users": ["alice"], "variant": "on"}]"""));

        await Eventually.WaitAsync(() => !changes.IsEmpty, Deadline, "the flags Changed event");
        Assert.Equal(["Checkout.NewFlow"], Assert.Single(changes).Flags);
        Assert.True(await features.IsEnabledAsync("Checkout.NewFlow", alice));
        Assert.False(await features.IsEnabledAsync("Checkout.NewFlow", new TargetingContext { UserId = "bob" }));

        // Without a targeting context (and no accessor registered) the flag is evaluated for the instance: pod-1 is no user.
        Assert.False(await features.IsEnabledAsync("Checkout.NewFlow"));
        var after = await flags.GetBooleanAsync("Checkout.NewFlow", false, new FlagContext { TargetingKey = "alice" });
        Assert.Equal((true, "on", FlagReason.TargetingMatch), (after.Value, after.Variant, after.Reason));
        Assert.Equal("true", root["feature_management:feature_flags:Checkout.NewFlow:enabled"]);
    }

    [Fact]
    public async Task A_rollout_through_IFeatureManager_matches_the_typed_API_for_every_user_and_raising_it_keeps_who_was_on()
    {
        using var admin = await fixture.NewAppAsync(("features", "flags"));
        await PublishAsync(admin, "features", Rollout(20));
        using var root = Sources.Build(Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "features"));
        await using var provider = root.Provider();
        await using var services = Services(root);
        var features = services.GetRequiredService<IFeatureManager>();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();

        var on20 = await OnUsersAsync(features, flags);
        Assert.InRange(on20.Count, 1_900, 2_100);

        var changes = new ConcurrentQueue<ConclaveFlagsChangedEventArgs>();
        flags.Changed += (_, e) => changes.Enqueue(e);
        await ProviderTests.WaitConnectedAsync(provider);
        await PublishAsync(admin, "features", Rollout(30));
        await Eventually.WaitAsync(() => !changes.IsEmpty, Deadline, "the flags Changed event for 30%");

        var on30 = await OnUsersAsync(features, flags);
        Assert.InRange(on30.Count, 2_900, 3_100);
        Assert.Empty(on20.Except(on30));
    }

    [Fact]
    public async Task Group_window_instance_and_label_rules_work_through_IFeatureManager()
    {
        var now = TimeProvider.System.GetUtcNow();
        string At(TimeSpan offset) => (now + offset).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        using var admin = await fixture.NewAppAsync(("features", "flags"));
        await PublishAsync(admin, "features", $$$"""
            {"flags": {
              "Beta.Staff": {"type": "boolean", "defaultVariant": "off", "rules": [{"groups": ["staff"], "variant": "on"}]},
              "Promo.Now": {"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"start": "{{{At(TimeSpan.FromHours(-1))}}}", "end": "{{{At(TimeSpan.FromHours(1))}}}"}, "variant": "on"}]},
              "Promo.Later": {"type": "boolean", "defaultVariant": "off", "rules": [{"window": {"start": "{{{At(TimeSpan.FromDays(1))}}}"}, "variant": "on"}]},
              "Zone.Eu": {"type": "boolean", "defaultVariant": "off", "rules": [{"attributes": {"zone": ["eu1"]}, "instances": ["pod-1"], "variant": "on"}]},
              "Search.Ranking": {"type": "string", "variants": {"classic": "bm25", "learned": "ltr-v3"}, "defaultVariant": "classic",
                                 "rules": [{"groups": ["staff"], "variant": "learned"}]},
              "Search.Off": {"type": "string", "enabled": false, "variants": {"classic": "bm25", "learned": "ltr-v3"}, "defaultVariant": "learned", "offVariant": "classic"}
            }}
            """);
        var options = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "features");
        options.Labels = new Dictionary<string, string> { ["zone"] = "eu1" };
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        await using var services = Services(root, new StaticAccessor(new TargetingContext { UserId = "carol", Groups = ["staff"] }));
        var features = services.GetRequiredService<IFeatureManager>();
        var variants = services.GetRequiredService<IVariantFeatureManager>();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();

        Assert.True(await features.IsEnabledAsync("Beta.Staff", new TargetingContext { UserId = "u1", Groups = ["staff"] }));
        Assert.False(await features.IsEnabledAsync("Beta.Staff", new TargetingContext { UserId = "u1", Groups = ["sales"] }));
        Assert.True(await features.IsEnabledAsync("Beta.Staff"), "the ITargetingContextAccessor's groups");
        Assert.True(await features.IsEnabledAsync("Promo.Now", new TargetingContext { UserId = "u1" }));
        Assert.False(await features.IsEnabledAsync("Promo.Later", new TargetingContext { UserId = "u1" }));

        // The instance id and labels come from the provider's options, for IFeatureManager and the typed API alike.
        Assert.True(await features.IsEnabledAsync("Zone.Eu", new TargetingContext { UserId = "u1" }));
        Assert.True((await flags.GetBooleanAsync("Zone.Eu", false)).Value);
        Assert.False((await flags.GetBooleanAsync("Zone.Eu", false, new FlagContext { InstanceId = "pod-2" })).Value);
        Assert.False((await flags.GetBooleanAsync("Zone.Eu", false, new FlagContext { Attributes = new Dictionary<string, string> { ["zone"] = "us1" } })).Value);

        // A string flag is on unless it serves its off variant, which is the default variant when the flag names none:
        // then only a rule's other variant turns it on. GetVariantAsync gives the default (enabled) or off variant.
        Assert.False(await features.IsEnabledAsync("Search.Ranking", new TargetingContext { UserId = "u1" }));
        Assert.True(await features.IsEnabledAsync("Search.Ranking", new TargetingContext { UserId = "u1", Groups = ["staff"] }));
        Assert.False(await features.IsEnabledAsync("Search.Off", new TargetingContext { UserId = "u1" }));
        var variant = await variants.GetVariantAsync("Search.Ranking", new TargetingContext { UserId = "u1", Groups = ["staff"] }, CancellationToken.None);
        Assert.Equal(("classic", "bm25"), (variant.Name, variant.Configuration?.Value));
        var off = await variants.GetVariantAsync("Search.Off", new TargetingContext { UserId = "u1" }, CancellationToken.None);
        Assert.Equal(("classic", "bm25"), (off.Name, off.Configuration?.Value));

        // The rule-chosen variant is the typed API's to serve.
        var typed = await flags.GetStringAsync("Search.Ranking", "none", new FlagContext { TargetingKey = "u1", Groups = ["staff"] });
        Assert.Equal(("ltr-v3", "learned", FlagReason.TargetingMatch), (typed.Value, typed.Variant, typed.Reason));
        var mismatch = await flags.GetBooleanAsync("Search.Ranking", true);
        Assert.Equal((true, FlagReason.Error, FlagErrorCode.TypeMismatch), (mismatch.Value, mismatch.Reason, mismatch.ErrorCode));
        var missing = await flags.GetIntegerAsync("No.Such", 7);
        Assert.Equal((7L, FlagErrorCode.FlagNotFound), (missing.Value, missing.ErrorCode));
    }

    [Fact]
    public async Task A_flags_release_that_does_not_parse_is_refused_and_the_last_good_flags_stay()
    {
        using var admin = await fixture.NewAppAsync(("features", "flags"));
        await PublishAsync(admin, "features", Boolean("Checkout.NewFlow", enabled: true, """[{"variant": "on"}]"""));
        var options = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-1", "features");
        options.ReportDelivery = false;
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        await using var services = Services(root);
        var features = services.GetRequiredService<IFeatureManager>();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();
        var good = provider.Flags;
        var keys = root.AsEnumerable().ToDictionary(p => p.Key, p => p.Value);
        var changes = new ConcurrentQueue<ConclaveFlagsChangedEventArgs>();
        flags.Changed += (_, e) => changes.Enqueue(e);

        // The member refuses such a document at publish, so the release is handed to the provider directly.
        var released = provider.Status.Releases["features"];
        var bad = new ConfigRelease(admin.App, "PRO", "features", released + 1, "flags",
            """{"flags": {"Checkout.NewFlow": {"type": "boolean", "defaultVariant": "maybe"}}}""",
            new Dictionary<string, string>(), "bad", false, "bad", "tests", TimeProvider.System.GetUtcNow());
        await provider.ApplyAsync(bad, CancellationToken.None);

        Assert.Contains($"features#{released + 1}", provider.Status.LastRejection);
        Assert.Contains("Checkout.NewFlow", provider.Status.LastRejection);
        Assert.Same(good, provider.Flags);
        Assert.Equal(released, provider.Status.Releases["features"]);
        Assert.Equal(keys, root.AsEnumerable().ToDictionary(p => p.Key, p => p.Value));
        Assert.True(await features.IsEnabledAsync("Checkout.NewFlow", new TargetingContext { UserId = "u1" }));
        Assert.True((await flags.GetBooleanAsync("Checkout.NewFlow", false)).Value);
        Assert.Empty(changes);
    }

    private static async Task<HashSet<string>> OnUsersAsync(IFeatureManager features, IConclaveFeatureFlags flags)
    {
        var on = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 10_000; i++)
        {
            var user = "user-" + i.ToString(CultureInfo.InvariantCulture);
            var managed = await features.IsEnabledAsync("Checkout.NewFlow", new TargetingContext { UserId = user });
            var typed = await flags.GetBooleanAsync("Checkout.NewFlow", false, new FlagContext { TargetingKey = user });
            Assert.True(managed == typed.Value, $"{user}: IFeatureManager says {managed}, the typed API {typed.Value} ({typed.Reason})");
            if (managed)
            {
                on.Add(user);
            }
        }

        return on;
    }

    private static string Rollout(int percent) => Boolean("Checkout.NewFlow", enabled: true,
        $$"""[{"users": ["vip"], "variant": "on"}, {"rollout": [{"variant": "on", "percentage": {{percent}}}]}]""");

    [Fact]
    public async Task Evaluations_through_the_typed_API_and_IFeatureManager_are_counted_and_reported_to_the_center()
    {
        using var admin = await fixture.NewAppAsync(("features", "flags"));
        await PublishAsync(admin, "features", Boolean("Checkout.NewFlow", enabled: true, """[{"users": ["alice"], "variant": "on"}]"""));
        var options = Sources.Options(fixture.Node.Endpoint, admin.App, "pod-counted", "features");
        options.ReportSpread = TimeSpan.Zero;
        options.FlagUsageReportInterval = TimeSpan.FromMilliseconds(200);
        using var root = Sources.Build(options);
        await using var provider = root.Provider();
        await using var services = Services(root);
        var features = services.GetRequiredService<IFeatureManager>();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();

        for (var i = 0; i < 30; i++)
        {
            Assert.True((await flags.GetBooleanAsync("Checkout.NewFlow", false, new FlagContext { TargetingKey = "alice" })).Value);
        }

        for (var i = 0; i < 20; i++)
        {
            Assert.False(await features.IsEnabledAsync("Checkout.NewFlow", new TargetingContext { UserId = "bob" }));
        }

        // Errors are not evaluations of a flag's variant: nothing is counted for them.
        Assert.Equal(FlagErrorCode.FlagNotFound, (await flags.GetBooleanAsync("Nope", false)).ErrorCode);
        Assert.Equal(FlagErrorCode.TypeMismatch, (await flags.GetStringAsync("Checkout.NewFlow", "")).ErrorCode);

        // The counts reach the center with the periodic report; the flag is used today and not stale.
        JsonElement flag = default;
        await Eventually.WaitAsync(
            async _ =>
            {
                var usage = await admin.FlagUsageAsync("features");
                flag = usage.GetProperty("flags").EnumerateArray().Single();
                // The day of use is written right after the instance's record, in a transaction of its own.
                return flag.GetProperty("variants").TryGetProperty("off", out var off) && off.GetInt64() == 20
                    && flag.GetProperty("lastEvaluated").ValueKind == JsonValueKind.String;
            },
            Deadline,
            "the evaluation counts in the center's flag usage");
        Assert.Equal(30, flag.GetProperty("variants").GetProperty("on").GetInt64());
        Assert.Equal(1, flag.GetProperty("instances").GetInt32());
        Assert.False(flag.GetProperty("stale").GetBoolean());
    }

    private static string Boolean(string name, bool enabled, string rules) =>
        $$"""{"flags": {"{{name}}": {"type": "boolean", "enabled": {{(enabled ? "true" : "false")}}, "defaultVariant": "off", "rules": """ + rules + "}}}";

    private static async Task PublishAsync(CenterAdmin admin, string ns, string document)
    {
        await admin.SetContentAsync(ns, document);
        await admin.PublishAsync(ns);
    }

    private static ServiceProvider Services(IConfiguration configuration, ITargetingContextAccessor? accessor = null)
    {
        var services = new ServiceCollection().AddSingleton(configuration).AddLogging();
        if (accessor is not null)
        {
            services.AddSingleton(accessor);
        }

        services.AddFeatureManagement().AddConclaveFlags();
        return services.BuildServiceProvider();
    }

    private sealed class StaticAccessor(TargetingContext context) : ITargetingContextAccessor
    {
        public ValueTask<TargetingContext> GetContextAsync() => ValueTask.FromResult(context);
    }
}

/// <summary>The flags path of the flattener: Microsoft.FeatureManagement's keys, merging, refusal, change detection.</summary>
public sealed class FlagFlattenerTests
{
    [Fact]
    public void A_flag_becomes_a_feature_management_entry_with_the_Conclave_filter_variants_and_defaults()
    {
        var data = ReleaseFlattener.Flatten(Release("features", 1, """
            {"flags": {"Search.Ranking": {"type": "json", "variants": {"a": {"k": [1, true]}, "b": null, "c": {}}, "defaultVariant": "a", "offVariant": "c", "enabled": false}}}
            """));
        const string root = "feature_management:feature_flags:Search.Ranking";
        Assert.Equal("Search.Ranking", data[$"{root}:id"]);
        Assert.Equal("false", data[$"{root}:enabled"]);
        Assert.Equal("Conclave", data[$"{root}:conditions:client_filters:0:name"]);
        Assert.Equal("Search.Ranking", data[$"{root}:conditions:client_filters:0:parameters:Flag"]);
        Assert.Equal("a", data[$"{root}:variants:0:name"]);
        Assert.Equal("1", data[$"{root}:variants:0:configuration_value:k:0"]);
        Assert.Equal("true", data[$"{root}:variants:0:configuration_value:k:1"]);
        Assert.Equal("b", data[$"{root}:variants:1:name"]);
        Assert.Null(data[$"{root}:variants:1:configuration_value"]);
        Assert.Equal("", data[$"{root}:variants:2:configuration_value"]);
        Assert.Equal("a", data[$"{root}:allocation:default_when_enabled"]);
        Assert.Equal("c", data[$"{root}:allocation:default_when_disabled"]);
    }

    [Fact]
    public void Later_flags_namespaces_replace_whole_flags_and_other_namespaces_keep_their_keys()
    {
        var data = ReleaseFlattener.Merge(
            [
                Release("base", 1, """{"flags": {"A": {"type": "string", "variants": {"x": "1", "y": "2", "z": "3"}, "defaultVariant": "x"}, "B": {"type": "boolean", "defaultVariant": "on"}}}"""),
                new ConfigRelease("app", "PRO", "settings.json", 1, "json", """{"Db": {"Pool": 5}}""", new Dictionary<string, string>(), "", false, "", "", DateTimeOffset.UnixEpoch),
                Release("override", 1, """{"flags": {"A": {"type": "string", "variants": {"w": "0"}, "defaultVariant": "w"}}}"""),
            ],
            out var flags);
        Assert.Equal(["A", "B"], flags.Set.Flags.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("w", flags.Set.Flags["A"].DefaultVariant);
        Assert.Equal("w", data["feature_management:feature_flags:A:variants:0:name"]);
        Assert.False(data.ContainsKey("feature_management:feature_flags:A:variants:1:name"), "the replaced flag's extra variants are gone");
        Assert.Equal("B", data["feature_management:feature_flags:B:id"]);
        Assert.Equal("5", data["Db:Pool"]);
    }

    [Fact]
    public void A_flags_document_that_does_not_parse_is_a_FormatException_naming_the_release_and_the_path()
    {
        var good = Release("features", 1, """{"flags": {"A": {"type": "boolean", "defaultVariant": "on"}}}""");
        var bad = Release("features", 2, """{"flags": {"A": {"type": "boolean", "defaultVariant": "on", "rules": [{"rollout": [{"variant": "on", "percentage": 120}]}]}}}""");
        var e = Assert.Throws<FormatException>(() => ReleaseFlattener.Merge([good, bad]));
        Assert.Contains("features#2", e.Message);
        Assert.Contains("flags[\"A\"].rules[0]", e.Message);
        Assert.IsType<FlagDocumentException>(e.InnerException);
        Assert.Throws<FormatException>(() => ReleaseFlattener.Flatten(Release("features", 3, "{not json")));
    }

    [Fact]
    public void Only_flags_whose_definition_changed_are_named()
    {
        ReleaseFlattener.Merge([Release("f", 1, """{"flags": {"A": {"type": "boolean", "defaultVariant": "on"}, "B": {"type": "boolean", "defaultVariant": "on"}, "C": {"type": "boolean", "defaultVariant": "on"}}}""")], out var before);
        ReleaseFlattener.Merge([Release("f", 2, """{"flags": {"A": {"type": "boolean", "defaultVariant": "on"}, "B": {"type": "boolean", "defaultVariant": "off"}, "D": {"type": "boolean", "defaultVariant": "on"}}}""")], out var after);
        Assert.Equal(["B", "C", "D"], before.ChangedIn(after));
        Assert.Empty(after.ChangedIn(after));
    }

    private static ConfigRelease Release(string ns, long id, string content) =>
        new("app", "PRO", ns, id, "flags", content, new Dictionary<string, string>(), "", false, "", "", DateTimeOffset.UnixEpoch);
}

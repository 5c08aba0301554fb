using System.Globalization;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>
/// The layout of the configuration center in the keyspace its port reaches (format version 1). Every record lives under
/// <see cref="Root"/>; names never contain '/', so each level is an unambiguous prefix. On a Conclave member that
/// keyspace is the system keyspace, which etcd's API never shows (ADR 0012); a port over an external etcd would put
/// these keys under a prefix of its own.
/// </summary>
public static class ConfigKeys
{
    /// <summary>The root of layout version 1.</summary>
    public const string Root = "config/v1/";

    public static ByteString App(string app) => Key($"apps/{app}");

    public static ByteString Apps() => Key("apps/");

    public static ByteString Environment(string app, string env) => Key($"envs/{app}/{env}");

    public static ByteString Environments(string app) => Key($"envs/{app}/");

    public static ByteString Namespace(string app, string env, string ns) => Key($"ns/{app}/{env}/{ns}");

    public static ByteString Namespaces(string app, string env) => Key($"ns/{app}/{env}/");

    /// <summary>Every namespace record of every app.</summary>
    public static ByteString AllNamespaces() => Key("ns/");

    public static ByteString Release(string app, string env, string ns, long id) => Key($"releases/{app}/{env}/{ns}/{Seq(id)}");

    public static ByteString Releases(string app, string env, string ns) => Key($"releases/{app}/{env}/{ns}/");

    public static ByteString History(string app, string env, string ns, long id) => Key($"history/{app}/{env}/{ns}/{Seq(id)}");

    public static ByteString Histories(string app, string env, string ns) => Key($"history/{app}/{env}/{ns}/");

    public static ByteString Request(string app, string env, string ns, long id) => Key($"requests/{app}/{env}/{ns}/{Seq(id)}");

    public static ByteString Requests(string app, string env, string ns) => Key($"requests/{app}/{env}/{ns}/");

    public static ByteString Instance(string app, string env, string ns, string instanceId) => Key($"instances/{app}/{env}/{ns}/{instanceId}");

    public static ByteString Instances(string app, string env, string ns) => Key($"instances/{app}/{env}/{ns}/");

    public static ByteString Audit(string app, DateTimeOffset at, string unique) => Key($"audit/{app}/{at.UtcTicks.ToString("D19", CultureInfo.InvariantCulture)}-{unique}");

    public static ByteString Audits(string app) => Key($"audit/{app}/");

    /// <summary>The audit entries of every app (keys name the app: <c>audit/{app}/...</c>).</summary>
    public static ByteString AllAudits() => Key("audit/");

    /// <summary>Who may do what in <paramref name="app"/> (<see cref="Model.AppAccess"/>).</summary>
    public static ByteString Access(string app) => Key($"access/{app}");

    /// <summary>One app credential (<see cref="Model.AppCredential"/>, ADR 0015 decision 5).</summary>
    public static ByteString Credential(string app, string env, string id) => Key($"credentials/{app}/{env}/{id}");

    /// <summary>The credentials of one app and environment, revoked ones included.</summary>
    public static ByteString Credentials(string app, string env) => Key($"credentials/{app}/{env}/");

    /// <summary>Every credential of every app (keys name them: <c>credentials/{app}/{env}/{id}</c>).</summary>
    public static ByteString AllCredentials() => Key("credentials/");

    /// <summary>The data keys of a namespace holding secrets, wrapped by the master key (<see cref="Secrets.DataKeyRecord"/>).</summary>
    public static ByteString DataKeys(string app, string env, string ns) => Key($"keys/{app}/{env}/{ns}");

    /// <summary>The data key records of every namespace (what a master-key rotation re-wraps).</summary>
    public static ByteString AllDataKeys() => Key("keys/");

    /// <summary>One webhook of an app (<see cref="Webhooks.Webhook"/>, ADR 0016).</summary>
    public static ByteString Webhook(string app, string id) => Key($"webhooks/{app}/{id}");

    public static ByteString Webhooks(string app) => Key($"webhooks/{app}/");

    /// <summary>Every app's webhooks.</summary>
    public static ByteString AllWebhooks() => Key("webhooks/");

    /// <summary>One event for one webhook (<see cref="Webhooks.WebhookDelivery"/>).</summary>
    public static ByteString WebhookDelivery(string app, string id, string eventId) => Key($"webhook-deliveries/{app}/{id}/{eventId}");

    public static ByteString WebhookDeliveries(string app, string id) => Key($"webhook-deliveries/{app}/{id}/");

    /// <summary>The marker of a delivery waiting for an attempt (value: the due time in UTC ticks); what the leader's sender scans.</summary>
    public static ByteString WebhookPending(string app, string id, string eventId) => Key($"webhook-pending/{app}/{id}/{eventId}");

    public static ByteString WebhookPendings(string app, string id) => Key($"webhook-pending/{app}/{id}/");

    public static ByteString AllWebhookPending() => Key("webhook-pending/");

    /// <summary>Every delivery and pending marker of every webhook of <paramref name="app"/> (deleted with the app).</summary>
    public static ByteString[] AppWebhookRecords(string app) => [Key($"webhook-deliveries/{app}/"), Key($"webhook-pending/{app}/")];

    /// <summary>The last audit revision the webhook dispatcher has turned into deliveries.</summary>
    public static ByteString WebhookCursor() => Key("webhook-cursor");

    /// <summary>The member-wide settings of the center (who may create apps).</summary>
    public static ByteString Settings() => Key("settings");

    /// <summary>When each flag of a flags namespace was last evaluated by any instance (<see cref="Model.FlagUsageRecord"/>).</summary>
    public static ByteString FlagUsage(string app, string env, string ns) => Key($"flag-usage/{app}/{env}/{ns}");

    /// <summary>Present while a rollout plan of the namespace is active: the driver's index (it reads this prefix, not every namespace).</summary>
    public static ByteString Rollout(string app, string env, string ns) => Key($"rollouts/{app}/{env}/{ns}");

    public static ByteString Rollouts() => Key("rollouts/");

    /// <summary>The first key after every key starting with <paramref name="prefix"/> (etcd's prefix range end).</summary>
    public static ByteString PrefixEnd(ByteString prefix)
    {
        var bytes = prefix.ToByteArray();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }

    private static string Seq(long id) => id.ToString("D12", CultureInfo.InvariantCulture);

    private static ByteString Key(string suffix) => ByteString.CopyFromUtf8(Root + suffix);
}

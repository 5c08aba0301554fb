using System.Text.Json;
using System.Text.Json.Serialization;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>
/// Compile-time JSON metadata for every record the configuration center writes into the keyspace or hands out:
/// no reflection at run time, so the records serialize the same way in a Native AOT build. A type missing here
/// fails loudly (in tests too), because <see cref="ConfigJson.Options"/> resolves through this context only.
/// </summary>
/// <remarks>
/// The model's properties that have a default value use <c>set</c>, not <c>init</c>: generated metadata assigns every
/// init-only property, so one missing from the JSON would become null or 0 instead of its default
/// (dotnet/runtime#84484), unlike reflection-based deserialization.
/// </remarks>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AppRecord))]
[JsonSerializable(typeof(EnvironmentRecord))]
[JsonSerializable(typeof(NamespaceRecord))]
[JsonSerializable(typeof(ReleaseRecord))]
[JsonSerializable(typeof(HistoryEntry))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(InstanceRecord))]
[JsonSerializable(typeof(RolloutIndex))]
[JsonSerializable(typeof(FlagUsageRecord))]
[JsonSerializable(typeof(FlagUsageReport))]
[JsonSerializable(typeof(ConfigExport))]
[JsonSerializable(typeof(EnvironmentExport))]
[JsonSerializable(typeof(NamespaceExport))]
[JsonSerializable(typeof(ImportResult))]
[JsonSerializable(typeof(ImportOutcome))]
[JsonSerializable(typeof(EffectiveRelease))]
[JsonSerializable(typeof(Convergence))]
[JsonSerializable(typeof(DiffEntry))]
[JsonSerializable(typeof(GrayRule))]
[JsonSerializable(typeof(GrayState))]
[JsonSerializable(typeof(ConfigItem))]
[JsonSerializable(typeof(ChangeContext))]
[JsonSerializable(typeof(AppAccess))]
[JsonSerializable(typeof(AccessGrant))]
[JsonSerializable(typeof(ConfigSettings))]
[JsonSerializable(typeof(ReleaseRequest))]
[JsonSerializable(typeof(AppCredential))]
[JsonSerializable(typeof(CredentialView))]
[JsonSerializable(typeof(IssuedCredential))]
[JsonSerializable(typeof(Secrets.DataKeyRecord))]
[JsonSerializable(typeof(Secrets.KeyRotationResult))]
[JsonSerializable(typeof(Webhooks.Webhook))]
[JsonSerializable(typeof(Webhooks.WebhookView))]
[JsonSerializable(typeof(Webhooks.IssuedWebhook))]
[JsonSerializable(typeof(Webhooks.WebhookDelivery))]
[JsonSerializable(typeof(Webhooks.WebhookEvent))]
public sealed partial class ConfigJsonContext : JsonSerializerContext;

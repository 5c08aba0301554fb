using System.Text.Json;
using System.Text.Json.Serialization;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Conclave.Server.Http;

/// <summary>
/// Compile-time JSON metadata for every body the HTTP listener reads or writes (configuration center API, console
/// API, cluster and key views, server-sent events, problem details). The listener's JSON options resolve through
/// this context only (<see cref="ConclaveServer"/>), with no reflection fallback: the JIT build used by the tests
/// and the Native AOT build serialize exactly the same way, and a type missing here fails in tests. An untyped
/// result is written by its run-time type, so handlers build the types listed here (lists as arrays or List).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
// request bodies
[JsonSerializable(typeof(Security.Auth.SignIn))]
[JsonSerializable(typeof(Security.Auth.SessionView))]
[JsonSerializable(typeof(Security.Auth.SignOut))]
[JsonSerializable(typeof(CreateAppBody))]
[JsonSerializable(typeof(CreateEnvironmentBody))]
[JsonSerializable(typeof(CreateNamespaceBody))]
[JsonSerializable(typeof(AssociateBody))]
[JsonSerializable(typeof(SetItemBody))]
[JsonSerializable(typeof(SetContentBody))]
[JsonSerializable(typeof(SetSchemaBody))]
[JsonSerializable(typeof(PublishBody))]
[JsonSerializable(typeof(RollbackBody))]
[JsonSerializable(typeof(GrayPublishBody))]
[JsonSerializable(typeof(RolloutPlanBody))]
[JsonSerializable(typeof(RolloutSkipBody))]
[JsonSerializable(typeof(RolloutAbortBody))]
[JsonSerializable(typeof(GrayRuleBody))]
[JsonSerializable(typeof(GuardBody))]
[JsonSerializable(typeof(ReportBody))]
[JsonSerializable(typeof(ValidateBody))]
[JsonSerializable(typeof(CreateCredentialBody))]
[JsonSerializable(typeof(ConfigExport))]
[JsonSerializable(typeof(OwnerBody))]
[JsonSerializable(typeof(SubjectBody))]
[JsonSerializable(typeof(GrantBody))]
[JsonSerializable(typeof(PolicyBody))]
[JsonSerializable(typeof(DecisionBody))]
[JsonSerializable(typeof(ConfigSettings))]
[JsonSerializable(typeof(CreateWebhookBody))]
// configuration center answers (lists as arrays: see ConfigHttpApi.Items)
[JsonSerializable(typeof(AppRecord))]
[JsonSerializable(typeof(AppRecord[]))]
[JsonSerializable(typeof(EnvironmentRecord))]
[JsonSerializable(typeof(EnvironmentRecord[]))]
[JsonSerializable(typeof(NamespaceView))]
[JsonSerializable(typeof(NamespaceView[]))]
[JsonSerializable(typeof(ReleaseRecord))]
[JsonSerializable(typeof(ReleaseRecord[]))]
[JsonSerializable(typeof(HistoryEntry[]))]
[JsonSerializable(typeof(AuditEntry[]))]
[JsonSerializable(typeof(DiffEntry[]))]
[JsonSerializable(typeof(InstanceRecord))]
[JsonSerializable(typeof(InstanceRecord[]))]
[JsonSerializable(typeof(ImportResult))]
[JsonSerializable(typeof(EffectiveRelease))]
[JsonSerializable(typeof(Convergence))]
[JsonSerializable(typeof(FlagUsageReport))]
[JsonSerializable(typeof(ConfigCenter.AccessView))]
[JsonSerializable(typeof(ReleaseRequest))]
[JsonSerializable(typeof(ReleaseRequest[]))]
[JsonSerializable(typeof(ReleaseRequestView))]
[JsonSerializable(typeof(ConfigCenter.NamespacePermissions))]
[JsonSerializable(typeof(CredentialView[]))]
[JsonSerializable(typeof(CredentialView))]
[JsonSerializable(typeof(IssuedCredential))]
[JsonSerializable(typeof(ConfigCenter.Secrets.KeyRotationResult))]
[JsonSerializable(typeof(ConfigCenter.Webhooks.WebhookView))]
[JsonSerializable(typeof(ConfigCenter.Webhooks.WebhookView[]))]
[JsonSerializable(typeof(ConfigCenter.Webhooks.IssuedWebhook))]
[JsonSerializable(typeof(ConfigCenter.Webhooks.WebhookDelivery))]
[JsonSerializable(typeof(ConfigCenter.Webhooks.WebhookDelivery[]))]
// console views
[JsonSerializable(typeof(List<NamespaceSummary>))]
[JsonSerializable(typeof(ValidationResult))]
[JsonSerializable(typeof(DeliverySnapshot))]
[JsonSerializable(typeof(List<AuditView>))]
[JsonSerializable(typeof(AuditView))]
[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(List<LeaseView>))]
[JsonSerializable(typeof(List<LockView>))]
[JsonSerializable(typeof(KeyPage))]
[JsonSerializable(typeof(KeyHistoryView))]
[JsonSerializable(typeof(KeyWatchEvent))]
// /health, /version, the KV gateway's errors, problem details and their extension values
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(bool))]
internal sealed partial class HttpJsonContext : JsonSerializerContext;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// What a grant allows on a namespace (ADR 0015, Apollo's split): <see cref="Edit"/> the working copy,
/// <see cref="Release"/> it (publish, rollback, gray release), <see cref="Reveal"/> secret values in views. An app's
/// owner and admins hold all three on every namespace of the app, and manage the app itself.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ConfigPermission>))]
public enum ConfigPermission
{
    Edit,
    Release,
    Reveal,
}

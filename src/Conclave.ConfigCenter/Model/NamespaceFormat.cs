using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>How a namespace's content is written and validated.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NamespaceFormat>))]
public enum NamespaceFormat
{
    Properties,
    Json,
    Yaml,
    Text,

    /// <summary>Feature flags: a JSON document of docs/feature-flags.md, evaluated by the clients.</summary>
    Flags,
}

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
}

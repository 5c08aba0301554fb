using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

[JsonConverter(typeof(JsonStringEnumConverter<ReleaseKind>))]
public enum ReleaseKind
{
    Normal,
    Gray,
    Rollback,
}

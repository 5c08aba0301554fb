using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

[JsonConverter(typeof(JsonStringEnumConverter<DeliveryStatus>))]
public enum DeliveryStatus
{
    Applied,
    Rejected,
}

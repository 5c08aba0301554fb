using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

[JsonConverter(typeof(JsonStringEnumConverter<DeliveryStatus>))]
public enum DeliveryStatus
{
    Applied,
    Rejected,

    /// <summary>Applied, and the app's health checks failed afterwards (the .NET provider reports them): counts against a rollout plan.</summary>
    Unhealthy,
}

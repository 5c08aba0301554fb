using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Webhooks;

[JsonConverter(typeof(JsonStringEnumConverter<WebhookDeliveryState>))]
public enum WebhookDeliveryState
{
    /// <summary>Waiting for its next attempt.</summary>
    Pending,

    /// <summary>The endpoint answered 2xx.</summary>
    Delivered,

    /// <summary>Every attempt failed; a redelivery starts again.</summary>
    Failed,
}

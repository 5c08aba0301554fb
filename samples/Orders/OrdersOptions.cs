using System.ComponentModel.DataAnnotations;

namespace Orders;

/// <summary>The sample's settings, bound from the <c>Orders</c> section (Conclave keys <c>Orders.Greeting</c>, ...).</summary>
public sealed class OrdersOptions
{
    [Required]
    [MinLength(1)]
    public string Greeting { get; set; } = "(not configured yet)";

    [Range(1, 100)]
    public int MaxItems { get; set; } = 10;
}

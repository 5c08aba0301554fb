using System.ComponentModel.DataAnnotations;

namespace Conclave.Extensions.Configuration.Tests;

public sealed class OrdersOptions
{
    public string Greeting { get; set; } = "";

    [Range(1, 100)]
    public int MaxItems { get; set; } = 1;
}

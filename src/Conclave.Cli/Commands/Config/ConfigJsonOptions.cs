using System.Text.Json;

namespace Conclave.Cli.Commands.Config;

/// <summary>JSON as the configuration API speaks it (camelCase), and the indented form of export files.</summary>
internal static class ConfigJsonOptions
{
    public static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

namespace Conclave.Bench;

/// <summary><c>--endpoints</c>: comma-separated client URLs, as etcdctl and the <c>conclave</c> CLI take them.</summary>
internal static class BenchEndpoints
{
    public const string Default = "127.0.0.1:2379";

    public static IReadOnlyList<string> Parse(string? value)
    {
        var endpoints = (value ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (endpoints.Length == 0)
        {
            throw new ArgumentException("--endpoints must name at least one endpoint, e.g. 127.0.0.1:2379.");
        }

        return endpoints;
    }
}

using System.Globalization;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// A rollout plan as people write it (CLI <c>--plan</c>, the console, the API's <c>plan.text</c>): steps separated by
/// commas, each <c>P%</c> or <c>P%@BAKE</c> (bake as <c>90s</c>, <c>5m</c>, <c>1h</c> or <c>1d</c>; a step without one bakes
/// for the default), or the name of a built-in strategy (<see cref="Strategies"/>).
/// </summary>
public static class RolloutPlanText
{
    /// <summary>Longest plan text read.</summary>
    public const int MaxLength = 1024;

    /// <summary>The built-in strategies, AWS AppConfig's shapes with bake times that suit configuration.</summary>
    public static readonly IReadOnlyDictionary<string, string> Strategies = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["canary"] = "1%@10m,10%@10m,50%@10m,100%@10m",
        ["linear"] = "20%@10m,40%@10m,60%@10m,80%@10m,100%@10m",
        ["exponential"] = "1%@5m,2%@5m,4%@5m,8%@5m,16%@5m,32%@5m,64%@5m,100%@5m",
        ["all-at-once"] = "100%@10m",
    };

    /// <summary>The steps of <paramref name="text"/>; a clear InvalidArgument naming the part that is wrong.</summary>
    public static IReadOnlyList<RolloutStep> Parse(string text, int defaultBakeSeconds = 300)
    {
        if (text.Length > MaxLength)
        {
            throw Bad($"a plan is at most {MaxLength} characters");
        }

        var trimmed = text.Trim();
        if (Strategies.TryGetValue(trimmed, out var named))
        {
            trimmed = named;
        }

        var parts = trimmed.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > ConfigCenterService.MaxRolloutSteps)
        {
            throw Bad($"a plan has at most {ConfigCenterService.MaxRolloutSteps} steps");
        }

        var steps = new List<RolloutStep>(parts.Length);
        foreach (var part in parts)
        {
            var at = part.IndexOf('@', StringComparison.Ordinal);
            var share = at < 0 ? part : part[..at];
            if (!share.EndsWith('%') || !double.TryParse(share.AsSpan(0, share.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percentage))
            {
                throw Bad($"'{Shorten(part)}' is not a step: write P% or P%@BAKE (e.g. 10%@5m), or one of {string.Join(", ", Strategies.Keys)}");
            }

            steps.Add(new RolloutStep(percentage, at < 0 ? defaultBakeSeconds : Duration(part[(at + 1)..], part)));
        }

        return steps;
    }

    private static int Duration(string text, string part)
    {
        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= 7 * 24 * 3600)
        {
            long? seconds = text[^1] switch { 's' => n, 'm' => n * 60, 'h' => n * 3600, 'd' => n * 86400, _ => null };
            if (seconds is { } s && s <= 7 * 24 * 3600)
            {
                return (int)s;
            }
        }

        throw Bad($"'{Shorten(part)}': the bake time is a whole number of s, m, h or d, up to 7 days (e.g. 90s, 5m, 1h)");
    }

    private static string Shorten(string part) => part.Length <= 40 ? part : part[..40] + "...";

    private static ConfigCenterException Bad(string message) => new(ConfigErrorKind.InvalidArgument, "plan: " + message);
}

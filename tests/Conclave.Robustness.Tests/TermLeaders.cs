using System.Text.RegularExpressions;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Which leader each member followed in each term, read from the members' own logs ("Leader changed to NAME
/// (ID) in term T", written when a member accepts a leader). Raft allows at most one leader per term, so two
/// members naming different leaders for one term is a split brain.
/// </summary>
internal static partial class TermLeaders
{
    public static void AssertOneLeaderPerTerm(ProcessCluster cluster, ITestOutputHelper output)
    {
        var leaders = new SortedDictionary<ulong, HashSet<string>>();
        for (var i = 0; i < cluster.Count; i++)
        {
            foreach (Match m in LeaderChanged().Matches(cluster[i].ReadLog()))
            {
                var term = ulong.Parse(m.Groups["term"].Value, System.Globalization.CultureInfo.InvariantCulture);
                (leaders.TryGetValue(term, out var set) ? set : leaders[term] = []).Add(m.Groups["name"].Value);
            }
        }

        output.WriteLine("leaders by term: " + string.Join("; ", leaders.Select(p => $"{p.Key}: {string.Join(",", p.Value)}")));
        Assert.True(leaders.Count >= 2, "expected at least two terms with a leader (before and after the fault)");
        foreach (var (term, names) in leaders)
        {
            Assert.True(names.Count == 1, $"term {term} had {names.Count} leaders: {string.Join(", ", names)}");
        }
    }

    [GeneratedRegex(@"Leader changed to (?<name>\S+) \((?<id>[0-9a-f]+)\) in term (?<term>\d+)")]
    private static partial Regex LeaderChanged();
}

using Conclave.ConfigCenter.Gray;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

public sealed class GrayCohortTests
{
    private static readonly string[] Ids = Enumerable.Range(0, 10_000).Select(i => $"instance-{i:D5}").ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(10)]
    [InlineData(25)]
    [InlineData(50)]
    [InlineData(90)]
    public void Fraction_is_within_two_percent_of_the_target(double percentage)
    {
        var inCohort = Ids.Count(id => GrayCohort.InPercentage("shop", "application", id, percentage));
        var fraction = inCohort * 100.0 / Ids.Length;
        Assert.InRange(fraction, percentage - 2, percentage + 2);
    }

    [Fact]
    public void Growing_the_percentage_never_removes_an_instance()
    {
        var previous = new HashSet<string>();
        for (var p = 0.0; p <= 100; p += 2.5)
        {
            var now = Ids.Where(id => GrayCohort.InPercentage("shop", "application", id, p)).ToHashSet();
            Assert.Superset(previous, now);
            previous = now;
        }

        Assert.Equal(Ids.Length, previous.Count);
    }

    [Fact]
    public void Bucket_is_stable_and_differs_by_namespace()
    {
        Assert.Equal(GrayCohort.Bucket("a", "n", "i-1"), GrayCohort.Bucket("a", "n", "i-1"));
        var same = Ids.Take(1000).Count(id => GrayCohort.Bucket("a", "n1", id) == GrayCohort.Bucket("a", "n2", id));
        Assert.True(same < 10, $"{same} of 1000 ids share a bucket across namespaces");
    }

    [Fact]
    public void Rule_matches_ids_labels_and_percentage()
    {
        var byId = new GrayRule { InstanceIds = ["i-7"] };
        Assert.True(GrayCohort.Matches(byId, "a", "n", "i-7", []));
        Assert.False(GrayCohort.Matches(byId, "a", "n", "i-8", []));

        var byLabel = new GrayRule { Labels = ["zone=eu1", "tier=web"] };
        Assert.True(GrayCohort.Matches(byLabel, "a", "n", "i-1", ["zone=eu1", "tier=web", "x=y"]));
        Assert.False(GrayCohort.Matches(byLabel, "a", "n", "i-1", ["zone=eu1"]));

        Assert.True(GrayCohort.Matches(new GrayRule { Percentage = 100 }, "a", "n", "anyone", []));
        Assert.False(GrayCohort.Matches(new GrayRule { Percentage = 100 }, "a", "n", null, []));
    }
}

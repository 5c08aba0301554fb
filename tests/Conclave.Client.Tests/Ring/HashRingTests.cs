using Conclave.Client.Internal;

namespace Conclave.Client.Tests.Ring;

/// <summary>The consistent-hash ring that picks a client's home member (DESIGN.md decision 8).</summary>
public sealed class HashRingTests
{
    private static readonly string[] Ids = [.. Enumerable.Range(0, 10_000).Select(static i => $"pod-{i}")];

    private static string[] Members(int count) => [.. Enumerable.Range(1, count).Select(static i => $"http://10.0.0.{i}:2379")];

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void Homes_spread_evenly_over_the_members(int count)
    {
        var ring = new HashRing(Members(count));

        var perMember = new int[count];
        foreach (var id in Ids)
        {
            perMember[ring.Home(id)]++;
        }

        // 160 virtual nodes keep every member's share within 20% of fair (measured: 3 members within 5%, 5 members within 15%; the values are deterministic).
        var fair = Ids.Length / (double)count;
        Assert.All(perMember, n => Assert.InRange(n, fair * 0.8, fair * 1.2));
    }

    [Fact]
    public void Removing_a_member_moves_only_its_clients_and_each_to_its_next_member_clockwise()
    {
        var all = Members(5);
        var before = new HashRing(all);
        var removed = all[2];
        var after = new HashRing([.. all.Where(m => m != removed)]);

        var moved = 0;
        foreach (var id in Ids)
        {
            var oldOrder = before.PreferenceOrder(id).Select(i => before.Members[i]).ToArray();
            var newHome = after.Members[after.Home(id)];
            if (oldOrder[0] == removed)
            {
                moved++;
                Assert.Equal(oldOrder[1], newHome);
            }
            else
            {
                Assert.Equal(oldOrder[0], newHome);
            }
        }

        Assert.InRange(moved, 1, Ids.Length * 0.3);
    }

    [Fact]
    public void Adding_a_member_moves_clients_only_onto_it()
    {
        var before = new HashRing(Members(4));
        var after = new HashRing(Members(5));

        foreach (var id in Ids)
        {
            var newHome = after.Members[after.Home(id)];
            Assert.True(newHome == after.Members[4] || newHome == before.Members[before.Home(id)], id);
        }
    }

    [Fact]
    public void The_preference_order_names_every_member_once_starting_at_home()
    {
        var ring = new HashRing(Members(5));

        foreach (var id in Ids.Take(500))
        {
            var order = ring.PreferenceOrder(id);
            Assert.Equal(ring.Home(id), order[0]);
            Assert.Equal([0, 1, 2, 3, 4], order.Order());
        }
    }

    [Fact]
    public void The_ring_does_not_depend_on_the_order_endpoints_are_listed_in()
    {
        var members = Members(5);
        var forward = new HashRing(members);
        var backward = new HashRing([.. members.Reverse()]);

        foreach (var id in Ids.Take(1000))
        {
            Assert.Equal(forward.Members[forward.Home(id)], backward.Members[backward.Home(id)]);
        }
    }

    /// <summary>
    /// Pinned values: every client of every version and process must place an id on the same member, so the hash
    /// must never be a per-process randomized one. Changing these numbers reshuffles every deployed client.
    /// </summary>
    [Fact]
    public void The_hash_is_a_fixed_function_stable_across_processes()
    {
        Assert.Equal(0xEFD01F60BA992926UL, HashRing.Hash(""));
        Assert.Equal(0xE4B1BFB43554E639UL, HashRing.Hash("pod-1"));
        var ring = new HashRing(Members(3));
        Assert.Equal([0, 1, 2, 2, 2], Ids.Take(5).Select(ring.Home));
    }
}

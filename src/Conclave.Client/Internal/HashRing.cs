using System.Text;

namespace Conclave.Client.Internal;

/// <summary>
/// A consistent-hash ring of virtual nodes over member addresses (DESIGN.md decision 8). A key (a client's instance
/// id) sits at its hash; its home is the first member clockwise, and its fallbacks are the next distinct members
/// clockwise. Adding or removing a member moves only the keys whose home it is or becomes.
/// </summary>
/// <remarks>
/// The hash is part of the contract: every client of every version must place the same id on the same member, so
/// it is a fixed, platform-independent function (FNV-1a 64 over UTF-8 with a MurmurHash3 finalizer), never
/// <see cref="string.GetHashCode()"/>, which is randomized per process.
/// </remarks>
internal sealed class HashRing
{
    /// <summary>Virtual nodes per member: enough to keep each member's share within a few percent of fair for 3-7 members.</summary>
    public const int DefaultVirtualNodes = 160;

    private readonly ulong[] _points;
    private readonly int[] _owners;

    /// <summary>Builds the ring.</summary>
    /// <param name="members">Member addresses; a member's index in this list is how results name it.</param>
    /// <param name="virtualNodes">Points per member on the ring.</param>
    public HashRing(IReadOnlyList<string> members, int virtualNodes = DefaultVirtualNodes)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentOutOfRangeException.ThrowIfLessThan(members.Count, 1, nameof(members));
        ArgumentOutOfRangeException.ThrowIfLessThan(virtualNodes, 1);
        Members = [.. members];
        var nodes = new (ulong Point, int Owner)[members.Count * virtualNodes];
        for (var m = 0; m < members.Count; m++)
        {
            for (var v = 0; v < virtualNodes; v++)
            {
                nodes[(m * virtualNodes) + v] = (Hash($"{members[m]}#{v}"), m);
            }
        }

        // Ties (astronomically rare) are broken by owner so the ring never depends on sort stability.
        Array.Sort(nodes, static (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : a.Owner.CompareTo(b.Owner));
        _points = [.. nodes.Select(static n => n.Point)];
        _owners = [.. nodes.Select(static n => n.Owner)];
    }

    /// <summary>The member addresses, in the order given.</summary>
    public IReadOnlyList<string> Members { get; }

    /// <summary>Index of the home member of <paramref name="key"/>: the owner of the first point at or after its hash.</summary>
    public int Home(string key) => _owners[FirstPointAtOrAfter(Hash(key))];

    /// <summary>
    /// Every member once, in the order <paramref name="key"/> uses them: its home first, then each next distinct
    /// member clockwise.
    /// </summary>
    public int[] PreferenceOrder(string key)
    {
        var order = new List<int>(Members.Count);
        var seen = new bool[Members.Count];
        var start = FirstPointAtOrAfter(Hash(key));
        for (var i = 0; i < _points.Length && order.Count < Members.Count; i++)
        {
            var owner = _owners[(start + i) % _points.Length];
            if (!seen[owner])
            {
                seen[owner] = true;
                order.Add(owner);
            }
        }

        return [.. order];
    }

    /// <summary>The ring's 64-bit hash: FNV-1a over the UTF-8 bytes, then MurmurHash3's fmix64 to spread similar strings.</summary>
    public static ulong Hash(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        const ulong offsetBasis = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offsetBasis;
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            hash ^= b;
            hash *= prime;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return hash;
    }

    private int FirstPointAtOrAfter(ulong hash)
    {
        var index = Array.BinarySearch(_points, hash);
        if (index < 0)
        {
            index = ~index;
        }

        // Past the last point: wrap around to the first.
        return index == _points.Length ? 0 : index;
    }
}

using Conclave.Client.Internal;
using Google.Protobuf;
using Proto = Conclave.Api.Etcd;

namespace Conclave.Client;

/// <summary>
/// A condition of a transaction, e.g. <c>Compare.Value("k").EqualTo("v")</c>,
/// <c>Compare.ModRevision("k").LessThan(42)</c> or <c>Compare.Version("k").EqualTo(0)</c> (the key does not exist).
/// </summary>
public sealed class Compare
{
    internal Compare(Proto.Compare proto)
    {
        Proto = proto;
    }

    internal Proto.Compare Proto { get; }

    /// <summary>Compares the value of a key.</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static ValueCompareTarget Value(string key) => new(KeyBytes.From(key));

    /// <summary>Compares the value of a key.</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static ValueCompareTarget Value(ByteString key) => new(KeyBytes.Checked(key));

    /// <summary>Compares the version of a key (number of writes since creation; zero when it does not exist).</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget Version(string key) => new(KeyBytes.From(key), Api.Etcd.Compare.Types.CompareTarget.Version);

    /// <summary>Compares the version of a key (number of writes since creation; zero when it does not exist).</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget Version(ByteString key) => new(KeyBytes.Checked(key), Api.Etcd.Compare.Types.CompareTarget.Version);

    /// <summary>Compares the creation revision of a key (zero when it does not exist).</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget CreateRevision(string key) => new(KeyBytes.From(key), Api.Etcd.Compare.Types.CompareTarget.Create);

    /// <summary>Compares the creation revision of a key (zero when it does not exist).</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget CreateRevision(ByteString key) => new(KeyBytes.Checked(key), Api.Etcd.Compare.Types.CompareTarget.Create);

    /// <summary>Compares the last modification revision of a key (zero when it does not exist).</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget ModRevision(string key) => new(KeyBytes.From(key), Api.Etcd.Compare.Types.CompareTarget.Mod);

    /// <summary>Compares the last modification revision of a key (zero when it does not exist).</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget ModRevision(ByteString key) => new(KeyBytes.Checked(key), Api.Etcd.Compare.Types.CompareTarget.Mod);

    /// <summary>Compares the lease attached to a key (zero when none).</summary>
    /// <param name="key">Key, encoded as UTF-8.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget Lease(string key) => new(KeyBytes.From(key), Api.Etcd.Compare.Types.CompareTarget.Lease);

    /// <summary>Compares the lease attached to a key (zero when none).</summary>
    /// <param name="key">Key bytes.</param>
    /// <returns>The left-hand side; pick the comparison with one of its methods.</returns>
    public static NumericCompareTarget Lease(ByteString key) => new(KeyBytes.Checked(key), Api.Etcd.Compare.Types.CompareTarget.Lease);

    /// <summary>
    /// The fencing condition of a lock or leadership: the holder key still exists with the create revision it had
    /// when it was acquired (its fencing token). Put it in a transaction to make a write that a stale holder (one
    /// whose lease expired while it was paused) cannot make: <c>client.Txn().If(Compare.Fenced(key, token)).Then(...)</c>.
    /// </summary>
    /// <param name="holderKey">The holder key (<see cref="LockHandle.Key"/> or <see cref="Leadership.Key"/>), as UTF-8.</param>
    /// <param name="fencingToken">The token handed out with it (<see cref="LockHandle.FencingToken"/>).</param>
    /// <returns>The condition.</returns>
    public static Compare Fenced(string holderKey, long fencingToken) => Fenced(KeyBytes.From(holderKey), fencingToken);

    /// <summary>The fencing condition of a lock or leadership; see <see cref="Fenced(string, long)"/>.</summary>
    /// <param name="holderKey">The holder key bytes.</param>
    /// <param name="fencingToken">The token handed out with it.</param>
    /// <returns>The condition.</returns>
    public static Compare Fenced(ByteString holderKey, long fencingToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fencingToken);
        return CreateRevision(holderKey).EqualTo(fencingToken);
    }
}

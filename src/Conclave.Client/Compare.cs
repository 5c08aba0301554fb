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
}

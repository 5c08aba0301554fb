using Google.Protobuf;
using Proto = Conclave.Api.Etcd;

namespace Conclave.Client;

/// <summary>
/// A number of a key (version, create revision, mod revision or lease) as the left-hand side of a transaction
/// condition (from <see cref="Compare.Version(string)"/> and its siblings).
/// </summary>
public sealed class NumericCompareTarget
{
    private readonly ByteString _key;
    private readonly Proto.Compare.Types.CompareTarget _target;

    internal NumericCompareTarget(ByteString key, Proto.Compare.Types.CompareTarget target)
    {
        _key = key;
        _target = target;
    }

    /// <summary>The number equals <paramref name="value"/>.</summary>
    /// <param name="value">Number to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare EqualTo(long value) => Build(Proto.Compare.Types.CompareResult.Equal, value);

    /// <summary>The number differs from <paramref name="value"/>.</summary>
    /// <param name="value">Number to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare NotEqualTo(long value) => Build(Proto.Compare.Types.CompareResult.NotEqual, value);

    /// <summary>The number is greater than <paramref name="value"/>.</summary>
    /// <param name="value">Number to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare GreaterThan(long value) => Build(Proto.Compare.Types.CompareResult.Greater, value);

    /// <summary>The number is less than <paramref name="value"/>.</summary>
    /// <param name="value">Number to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare LessThan(long value) => Build(Proto.Compare.Types.CompareResult.Less, value);

    private Compare Build(Proto.Compare.Types.CompareResult result, long value)
    {
        var proto = new Proto.Compare { Key = _key, Target = _target, Result = result };
        switch (_target)
        {
            case Proto.Compare.Types.CompareTarget.Version:
                proto.Version = value;
                break;
            case Proto.Compare.Types.CompareTarget.Create:
                proto.CreateRevision = value;
                break;
            case Proto.Compare.Types.CompareTarget.Mod:
                proto.ModRevision = value;
                break;
            default:
                proto.Lease = value;
                break;
        }

        return new Compare(proto);
    }
}

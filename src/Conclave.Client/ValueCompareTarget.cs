using Conclave.Client.Internal;
using Google.Protobuf;
using Proto = Conclave.Api.Etcd;

namespace Conclave.Client;

/// <summary>The value of a key, as the left-hand side of a transaction condition (from <see cref="Compare.Value(string)"/>).</summary>
public sealed class ValueCompareTarget
{
    private readonly ByteString _key;

    internal ValueCompareTarget(ByteString key)
    {
        _key = key;
    }

    /// <summary>The value equals <paramref name="value"/> (UTF-8).</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare EqualTo(string value) => Build(Proto.Compare.Types.CompareResult.Equal, KeyBytes.From(value));

    /// <summary>The value equals <paramref name="value"/>.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare EqualTo(ByteString value) => Build(Proto.Compare.Types.CompareResult.Equal, value);

    /// <summary>The value differs from <paramref name="value"/> (UTF-8).</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare NotEqualTo(string value) => Build(Proto.Compare.Types.CompareResult.NotEqual, KeyBytes.From(value));

    /// <summary>The value differs from <paramref name="value"/>.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare NotEqualTo(ByteString value) => Build(Proto.Compare.Types.CompareResult.NotEqual, value);

    /// <summary>The value sorts after <paramref name="value"/> (UTF-8), byte-wise.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare GreaterThan(string value) => Build(Proto.Compare.Types.CompareResult.Greater, KeyBytes.From(value));

    /// <summary>The value sorts after <paramref name="value"/>, byte-wise.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare GreaterThan(ByteString value) => Build(Proto.Compare.Types.CompareResult.Greater, value);

    /// <summary>The value sorts before <paramref name="value"/> (UTF-8), byte-wise.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare LessThan(string value) => Build(Proto.Compare.Types.CompareResult.Less, KeyBytes.From(value));

    /// <summary>The value sorts before <paramref name="value"/>, byte-wise.</summary>
    /// <param name="value">Value to compare with.</param>
    /// <returns>The condition.</returns>
    public Compare LessThan(ByteString value) => Build(Proto.Compare.Types.CompareResult.Less, value);

    private Compare Build(Proto.Compare.Types.CompareResult result, ByteString value) =>
        new(new Proto.Compare
        {
            Key = _key,
            Target = Proto.Compare.Types.CompareTarget.Value,
            Result = result,
            Value = KeyBytes.Checked(value),
        });
}

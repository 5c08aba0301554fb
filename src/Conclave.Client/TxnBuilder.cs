namespace Conclave.Client;

/// <summary>
/// Builds and commits a transaction:
/// <code>
/// var result = await client.Txn()
///     .If(Compare.Value("config/mode").EqualTo("blue"))
///     .Then(Op.Put("config/mode", "green"))
///     .Else(Op.Get("config/mode"))
///     .CommitAsync(cancellationToken);
/// </code>
/// Without conditions the success branch always runs. A builder is single-use and not thread-safe.
/// </summary>
public sealed class TxnBuilder
{
    private readonly ConclaveClient _client;
    private readonly List<Compare> _compares = [];
    private readonly List<Op> _success = [];
    private readonly List<Op> _failure = [];

    internal TxnBuilder(ConclaveClient client)
    {
        _client = client;
    }

    /// <summary>Adds conditions; the success branch runs only if all of them hold.</summary>
    /// <param name="compares">Conditions.</param>
    /// <returns>This builder.</returns>
    public TxnBuilder If(params Compare[] compares)
    {
        _compares.AddRange(compares);
        return this;
    }

    /// <summary>Adds operations to the success branch.</summary>
    /// <param name="ops">Operations.</param>
    /// <returns>This builder.</returns>
    public TxnBuilder Then(params Op[] ops)
    {
        _success.AddRange(ops);
        return this;
    }

    /// <summary>Adds operations to the failure branch.</summary>
    /// <param name="ops">Operations.</param>
    /// <returns>This builder.</returns>
    public TxnBuilder Else(params Op[] ops)
    {
        _failure.AddRange(ops);
        return this;
    }

    /// <summary>Sends the transaction.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Which branch ran and the results of its operations.</returns>
    public ValueTask<TxnResult> CommitAsync(CancellationToken cancellationToken = default) =>
        _client.TxnAsync(_compares, _success, _failure, cancellationToken);
}

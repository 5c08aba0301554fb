using Conclave.Api.Etcd;

namespace Conclave.Client;

/// <summary>Result of a transaction.</summary>
/// <param name="Revision">Revision of the keyspace after the transaction.</param>
/// <param name="Succeeded">Whether every comparison held, so the success branch ran.</param>
/// <param name="Responses">One result per operation of the branch that ran, in order.</param>
public sealed record TxnResult(long Revision, bool Succeeded, IReadOnlyList<OpResult> Responses) : OpResult(Revision)
{
    internal static TxnResult From(TxnResponse response)
    {
        var results = new OpResult[response.Responses.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var op = response.Responses[i];
            results[i] = op.ResponseCase switch
            {
                ResponseOp.ResponseOneofCase.ResponseRange => GetResult.From(op.ResponseRange),
                ResponseOp.ResponseOneofCase.ResponsePut => PutResult.From(op.ResponsePut),
                ResponseOp.ResponseOneofCase.ResponseDeleteRange => DeleteResult.From(op.ResponseDeleteRange),
                ResponseOp.ResponseOneofCase.ResponseTxn => From(op.ResponseTxn),
                _ => throw new ConclaveException($"Unknown transaction response kind '{op.ResponseCase}'."),
            };
        }

        return new TxnResult(response.Header?.Revision ?? 0, response.Succeeded, results);
    }
}

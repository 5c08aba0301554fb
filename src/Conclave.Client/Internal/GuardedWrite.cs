namespace Conclave.Client.Internal;

/// <summary>A write made only while a fencing condition holds; a failed condition is an answer (false), not an error.</summary>
internal static class GuardedWrite
{
    public static async ValueTask<bool> PutAsync(ConclaveClient client, Compare guard, Op write, CancellationToken cancellationToken)
    {
        var result = await client.TxnAsync([guard], [write], [], cancellationToken).ConfigureAwait(false);
        return result.Succeeded;
    }
}

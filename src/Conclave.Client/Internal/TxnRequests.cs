using Conclave.Api.Etcd;

namespace Conclave.Client.Internal;

internal static class TxnRequests
{
    public static TxnRequest Build(IEnumerable<Compare> compares, IEnumerable<Op> success, IEnumerable<Op> failure, out bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(compares);
        ArgumentNullException.ThrowIfNull(success);
        ArgumentNullException.ThrowIfNull(failure);
        var request = new TxnRequest();
        readOnly = true;
        foreach (var compare in compares)
        {
            ArgumentNullException.ThrowIfNull(compare, nameof(compares));
            request.Compare.Add(compare.Proto);
        }

        foreach (var op in success)
        {
            ArgumentNullException.ThrowIfNull(op, nameof(success));
            request.Success.Add(op.Request);
            readOnly &= op.IsRead;
        }

        foreach (var op in failure)
        {
            ArgumentNullException.ThrowIfNull(op, nameof(failure));
            request.Failure.Add(op.Request);
            readOnly &= op.IsRead;
        }

        return request;
    }
}

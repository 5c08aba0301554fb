using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;

namespace Conclave.Storage;

public sealed partial class KeyValueStore
{
    // etcd decides every branch (nested ones too) against the state before the txn, checks the chosen
    // path, and only then writes: a txn either applies whole or not at all. A txn reads and writes one keyspace.
    private TxnResponse ApplyTxn(Keyspace space, TxnRequest r)
    {
        var startRevision = space.Revision;
        var path = new List<bool>();
        ChoosePath(space, r, startRevision, path);
        var cursor = 0;
        long incoming = 0;
        CheckPath(space, r, startRevision, path, ref cursor, ref incoming);
        if (incoming > 0)
        {
            RefuseWhileOutOfSpace();
        }

        var batch = space.BeginWrite();
        cursor = 0;
        var response = Execute(batch, r, path, ref cursor);
        batch.Commit();
        response.Header = new ResponseHeader { Revision = space.Revision };
        return response;
    }

    /// <summary>Runs a txn whose branches only read, against the applied state of the user keyspace, without the log.</summary>
    public TxnResponse ReadOnlyTxn(TxnRequest r)
    {
        gate.EnterReadLock();
        try
        {
            var revision = keyspace.Revision;
            var path = new List<bool>();
            ChoosePath(keyspace, r, revision, path);
            var cursor = 0;
            long incoming = 0;
            CheckPath(keyspace, r, revision, path, ref cursor, ref incoming);
            cursor = 0;
            var batch = keyspace.BeginWrite();
            var response = Execute(batch, r, path, ref cursor);
            if (batch.Changed)
            {
                throw new InvalidOperationException("a read-only txn wrote");
            }

            response.Header = new ResponseHeader { Revision = revision };
            return response;
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    private static void ChoosePath(Keyspace space, TxnRequest r, long revision, List<bool> path)
    {
        var succeeded = r.Compare.All(c => Evaluate(space, c, revision));
        path.Add(succeeded);
        foreach (var op in succeeded ? r.Success : r.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                ChoosePath(space, op.RequestTxn, revision, path);
            }
        }
    }

    private void CheckPath(Keyspace space, TxnRequest r, long revision, List<bool> path, ref int cursor, ref long incoming)
    {
        var succeeded = path[cursor++];
        foreach (var op in succeeded ? r.Success : r.Failure)
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    if (op.RequestRange.Revision > 0)
                    {
                        space.ResolveReadRevision(op.RequestRange.Revision);
                    }

                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    var put = op.RequestPut;
                    if ((put.IgnoreValue || put.IgnoreLease) && !space.TryGetVersion(put.Key, revision, out _))
                    {
                        throw new ConclaveErrorException(ErrorCode.KeyNotFound, $"txn put: key '{put.Key.ToStringUtf8()}' does not exist, so its value or lease cannot be kept");
                    }

                    if (put.Lease != 0 && leases.Find(put.Lease)?.Keyspace != space.Kind)
                    {
                        throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"txn put: lease {put.Lease:x} does not exist");
                    }

                    incoming += put.Key.Length + put.Value.Length + 48;
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    CheckPath(space, op.RequestTxn, revision, path, ref cursor, ref incoming);
                    break;
            }
        }
    }

    private TxnResponse Execute(WriteBatch batch, TxnRequest r, List<bool> path, ref int cursor)
    {
        var succeeded = path[cursor++];
        var response = new TxnResponse { Succeeded = succeeded };
        foreach (var op in succeeded ? r.Success : r.Failure)
        {
            var result = new ResponseOp();
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    var range = op.RequestRange;
                    result.ResponseRange = batch.Keyspace.Range(range, range.Revision > 0 ? range.Revision : batch.ReadRevision);
                    result.ResponseRange.Header.Revision = batch.ReadRevision;
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    result.ResponsePut = PutIn(batch, op.RequestPut);
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    result.ResponseDeleteRange = DeleteIn(batch, op.RequestDeleteRange);
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    result.ResponseTxn = Execute(batch, op.RequestTxn, path, ref cursor);
                    result.ResponseTxn.Header = new ResponseHeader { Revision = batch.ReadRevision };
                    break;
            }

            response.Responses.Add(result);
        }

        return response;
    }

    private static bool Evaluate(Keyspace space, Compare c, long revision)
    {
        var matched = new List<KeyValue>();
        space.Scan(c.Key, c.RangeEnd, revision, kv =>
        {
            matched.Add(kv);
            return true;
        });

        if (matched.Count == 0)
        {
            // An absent key compares as the zero KeyValue, except that a value compare never holds.
            return c.Target != Compare.Types.CompareTarget.Value && CompareOne(c, new KeyValue());
        }

        return matched.TrueForAll(kv => CompareOne(c, kv));
    }

    private static bool CompareOne(Compare c, KeyValue kv)
    {
        var order = c.Target switch
        {
            Compare.Types.CompareTarget.Version => kv.Version.CompareTo(c.Version),
            Compare.Types.CompareTarget.Create => kv.CreateRevision.CompareTo(c.CreateRevision),
            Compare.Types.CompareTarget.Mod => kv.ModRevision.CompareTo(c.ModRevision),
            Compare.Types.CompareTarget.Value => kv.Value.Span.SequenceCompareTo(c.Value.Span),
            Compare.Types.CompareTarget.Lease => kv.Lease.CompareTo(c.Lease),
            _ => throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"unknown compare target {c.Target}"),
        };

        return c.Result switch
        {
            Compare.Types.CompareResult.Equal => order == 0,
            Compare.Types.CompareResult.NotEqual => order != 0,
            Compare.Types.CompareResult.Greater => order > 0,
            Compare.Types.CompareResult.Less => order < 0,
            _ => false,
        };
    }
}

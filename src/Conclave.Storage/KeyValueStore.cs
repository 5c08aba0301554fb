using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Api.Raft;
using Conclave.Storage.Auth;
using Conclave.Storage.Leases;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Storage;

/// <summary>
/// The deterministic state machine behind the replicated log: applies committed commands to the MVCC
/// keyspaces (the user's, which etcd's API serves, and the system keyspace, ADR 0012), lease table and alarms; serves
/// reads concurrently with applies; writes and restores snapshots.
/// No sockets, no clocks: every member that applies the same log reaches the same state.
/// </summary>
public sealed partial class KeyValueStore : IDisposable
{
    /// <summary>The format version written in every command batch this build produces (2: commands name their keyspace).</summary>
    public const uint CommandFormatVersion = 2;

    /// <summary>The oldest command format this build still applies (1: every command is a user-keyspace command).</summary>
    public const uint OldestCommandFormatVersion = 1;

    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private readonly object captureLock = new();
    private int captures;
    private readonly Keyspace keyspace = new();
    private readonly Keyspace system = new(KeyspaceKind.System);
    private readonly LeaseTable leases = new();
    private readonly AuthStore auth = new();
    private readonly SortedSet<(ulong Member, AlarmType Alarm)> alarms = [];
    private long appliedIndex;
    private long appliedSizeBytes;

    public KeyValueStore(StoreLimits? limits = null)
    {
        Limits = limits ?? new StoreLimits();
        SystemKeyspace = new SystemKeyspace(gate, system);
    }

    public StoreLimits Limits { get; }

    /// <summary>
    /// Told of a command whose apply threw something other than a rejection (a defect): the command is rejected on
    /// every member alike and applying goes on (ADR 0008); the owner logs it and counts it. Arguments: log index,
    /// position of the command in its entry, the exception.
    /// </summary>
    public Action<long, int, Exception>? CommandFailed { get; init; }

    /// <summary>Test fault injection: runs before each command is applied (a throw here stands for a defect in apply).</summary>
    internal Action<Command>? BeforeApply { get; init; }

    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary>Signals every new revision and compaction of the user keyspace to watchers.</summary>
    public RevisionSignal Signal { get; } = new();

    /// <summary>The system keyspace (the configuration center's and the cluster's records), out of etcd's API's reach.</summary>
    public SystemKeyspace SystemKeyspace { get; }

    public EventLog Events => keyspace.Events;

    /// <summary>The auth store as applied (immutable; read without locks). ADR 0014.</summary>
    public AuthState Auth => auth.Current;

    public long Revision => Read(k => k.Revision);

    public long CompactRevision => Read(k => k.CompactRevision);

    /// <summary>Bytes of retained history in both keyspaces: what the quota is charged with.</summary>
    public long SizeBytes => Read(_ => UsedBytes);

    public int KeyCount => Read(k => k.KeyCount);

    /// <summary>The user keyspace's value arena: bytes in its chunks and bytes of them retained versions refer to.</summary>
    public (long Chunked, long Live) ValueArenaBytes => Read(k => (k.Values.ChunkedBytes, k.Values.LiveBytes));

    /// <summary>The current revision and compact revision, read together.</summary>
    public (long Revision, long CompactRevision) Revisions => Read(k => (k.Revision, k.CompactRevision));

    public IReadOnlyList<AlarmMember> Alarms
    {
        get
        {
            gate.EnterReadLock();
            try
            {
                return alarms.Select(a => new AlarmMember { MemberID = a.Member, Alarm = a.Alarm }).ToList();
            }
            finally
            {
                gate.ExitReadLock();
            }
        }
    }

    // ---- reads ---------------------------------------------------------------------------------------------

    /// <summary>A range read against the applied state; throws <see cref="ConclaveErrorException"/> for a bad revision.</summary>
    public RangeResponse Range(RangeRequest request)
    {
        gate.EnterReadLock();
        try
        {
            return keyspace.Range(request);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Runs <paramref name="read"/> under the read lock.</summary>
    public T Read<T>(Func<Keyspace, T> read)
    {
        gate.EnterReadLock();
        try
        {
            return read(keyspace);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>
    /// Whether <paramref name="command"/> fits under this member's quota (<see cref="StoreLimits.QuotaBytes"/>) as the
    /// applied state stands, charged as history is (key + value + 48 bytes per put; a txn, its costlier branch). The
    /// member that proposes a write asks first, as etcd checks its quota before the log. Apply does not: a member's
    /// own setting must not decide what a committed entry does, so there only an active NOSPACE alarm refuses writes.
    /// Lock-free (the size published by the last apply), as it is asked before every write.
    /// </summary>
    public bool HasSpaceFor(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var cost = command.KindCase switch
        {
            Command.KindOneofCase.Put => PutCost(command.Put),
            Command.KindOneofCase.Txn => TxnCost(command.Txn),
            _ => 0,
        };
        return cost == 0 || Volatile.Read(ref appliedSizeBytes) + cost <= Limits.QuotaBytes;
    }

    private static long PutCost(PutRequest put) => put.Key.Length + put.Value.Length + 48;

    private static long TxnCost(TxnRequest txn) => Math.Max(OpsCost(txn.Success), OpsCost(txn.Failure));

    private static long OpsCost(IEnumerable<RequestOp> ops) => ops.Sum(op => op.RequestCase switch
    {
        RequestOp.RequestOneofCase.RequestPut => PutCost(op.RequestPut),
        RequestOp.RequestOneofCase.RequestTxn => TxnCost(op.RequestTxn),
        _ => 0,
    });

    public int LeaseCount => Read(_ => leases.Count);

    /// <summary>Every lease id with its granted TTL in seconds (of one keyspace, or of both).</summary>
    public Dictionary<long, long> LeaseTtls(KeyspaceKind? keyspace = null) =>
        Read(_ => leases.All.Where(l => keyspace is null || l.Keyspace == keyspace).ToDictionary(l => l.Id, l => l.Ttl));

    public LeaseRecord? FindLease(long id) => Read(_ => leases.Find(id) is { } l ? Copy(l) : null);

    public IReadOnlyList<LeaseRecord> ListLeases() => Read(_ => leases.All.Select(Copy).ToList());

    private static LeaseRecord Copy(LeaseRecord l)
    {
        var copy = new LeaseRecord(l.Id, l.Ttl, l.Keyspace);
        copy.Keys.UnionWith(l.Keys);
        copy.SystemKeys.UnionWith(l.SystemKeys);
        return copy;
    }

    // ---- apply ---------------------------------------------------------------------------------------------

    /// <summary>Encodes commands as one log entry payload.</summary>
    public static byte[] Encode(IEnumerable<Command> commands)
    {
        var batch = new CommandBatch { FormatVersion = CommandFormatVersion };
        batch.Commands.AddRange(commands);
        return batch.ToByteArray();
    }

    /// <summary>
    /// Applies one committed log entry. Returns one result per command: the response message, or a
    /// <see cref="ConclaveErrorException"/> when the command was rejected (rejection is deterministic too).
    /// </summary>
    public IReadOnlyList<object?> Apply(long index, ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            // Raft's own entries (leader no-ops, configuration) carry no commands.
            Volatile.Write(ref appliedIndex, index);
            return [];
        }

        // An entry that does not parse, or in a format this build does not know, cannot have been appended by a leader
        // of this build (it validates every batch first, ADR 0008): it comes from a newer member, or from a defect.
        // Skipping it would let this member drift from the members that apply it, so this member stops applying.
        CommandBatch batch;
        try
        {
            batch = CommandBatch.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"log entry {index} is not a command batch this build can read ({e.Message}); this member stops applying. " +
                "Upgrade this member to the build the leader runs, or restore it from a healthy member.", e);
        }

        if (batch.FormatVersion is < OldestCommandFormatVersion or > CommandFormatVersion)
        {
            throw new InvalidDataException($"log entry {index} has command format {batch.FormatVersion}; this build reads formats {OldestCommandFormatVersion} to {CommandFormatVersion}. " +
                "This member stops applying: upgrade it to the build the leader runs.");
        }

        var results = new object?[batch.Commands.Count];
        var before = keyspace.Revision;
        var systemBefore = system.Revision;
        var compacted = false;
        gate.EnterWriteLock();
        try
        {
            for (var i = 0; i < results.Length; i++)
            {
                var command = batch.Commands[i];
                compacted |= command.KindCase == Command.KindOneofCase.Compaction;
                try
                {
                    BeforeApply?.Invoke(command);
                    results[i] = ApplyOne(command);
                }
                catch (ConclaveErrorException e)
                {
                    results[i] = e;
                }
                catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
                {
                    // A defect, not a rejection. The same code on the same state fails the same way on every member,
                    // so rejecting the command keeps members identical and the cluster available; memory and stack
                    // exhaustion are not deterministic and stop this member instead (ADR 0008).
                    results[i] = new ConclaveErrorException(ErrorCode.InvalidArgument,
                        $"the command could not be applied and was rejected on every member ({e.GetType().Name} in log entry {index})");
                    CommandFailed?.Invoke(index, i, e);
                }

                CompactSystemHistory();
            }

            Volatile.Write(ref appliedIndex, index);
            Volatile.Write(ref appliedSizeBytes, UsedBytes);
        }
        finally
        {
            gate.ExitWriteLock();
        }

        if (keyspace.Revision != before)
        {
            Signal.Publish(keyspace.Revision);
        }
        else if (compacted)
        {
            Signal.Pulse();
        }

        if (system.Revision != systemBefore)
        {
            SystemKeyspace.Signal.Publish(system.Revision);
        }

        return results;
    }

    private object ApplyOne(Command command)
    {
        CheckPermission(command);
        return ApplyChecked(command);
    }

    private object ApplyChecked(Command command) => command.KindCase switch
    {
        Command.KindOneofCase.Put => ApplyWrite(Target(command), b => PutIn(b, command.Put), needsSpace: true),
        Command.KindOneofCase.DeleteRange => ApplyWrite(Target(command), b => DeleteIn(b, command.DeleteRange), needsSpace: false),
        Command.KindOneofCase.Txn => ApplyTxn(Target(command), command.Txn),
        Command.KindOneofCase.Compaction => ApplyCompaction(command.Compaction),
        Command.KindOneofCase.Alarm => ApplyAlarm(command.Alarm),
        Command.KindOneofCase.LeaseGrant => ApplyLeaseGrant(command.LeaseGrant, command.Keyspace),
        Command.KindOneofCase.LeaseRevoke => ApplyLeaseRevoke(command.LeaseRevoke, command.Keyspace),
        Command.KindOneofCase.Auth => ApplyAuth(command),
        _ => throw new ConclaveErrorException(ErrorCode.Unimplemented, $"unknown command {command.KindCase}"),
    };

    /// <summary>
    /// A client's command runs as its user, checked against the auth store as it stands at this point of the log: the
    /// same on every member, and a permission revoked before the entry is applied refuses it (ADR 0014). The member's
    /// own commands and the system keyspace's (the configuration center's, with its own access model) are not checked
    /// here; auth changes check the root role themselves.
    /// </summary>
    private void CheckPermission(Command command)
    {
        var state = auth.Current;
        if (!state.Enabled || command.ByMember || command.Keyspace != KeyspaceKind.User)
        {
            return;
        }

        var user = command.User;
        switch (command.KindCase)
        {
            case Command.KindOneofCase.Put:
                state.CheckPutRequest(user, command.Put, LeaseKeys);
                break;
            case Command.KindOneofCase.DeleteRange:
                state.CheckDeleteRequest(user, command.DeleteRange);
                break;
            case Command.KindOneofCase.Txn:
                state.CheckTxn(user, command.Txn, LeaseKeys);
                break;
            case Command.KindOneofCase.Compaction:
                state.CheckAdmin(user);
                break;
            case Command.KindOneofCase.Alarm when command.Alarm.Action != AlarmRequest.Types.AlarmAction.Get:
                state.CheckAdmin(user);
                break;
            case Command.KindOneofCase.LeaseGrant:
                state.CheckAuthenticated(user);
                break;
            case Command.KindOneofCase.LeaseRevoke:
                state.CheckAuthenticated(user);
                foreach (var key in LeaseKeys(command.LeaseRevoke.ID))
                {
                    state.CheckPut(user, key);
                }

                break;
        }
    }

    /// <summary>The user keys a lease holds now (none for an unknown lease).</summary>
    private IEnumerable<ByteString> LeaseKeys(long lease) => leases.Find(lease)?.Keys ?? Enumerable.Empty<ByteString>();

    /// <summary>An auth change; its response's header is the edge's to fill.</summary>
    private IMessage ApplyAuth(Command command) => auth.Apply(command.Auth, command.User, command.ByMember);

    /// <summary>The keyspace a put, delete or txn writes; any other command must leave the tag at the user keyspace.</summary>
    private Keyspace Target(Command command) => command.Keyspace switch
    {
        KeyspaceKind.User => keyspace,
        KeyspaceKind.System => system,
        var other => throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"command names keyspace {(int)other}, which this build does not know"),
    };

    /// <summary>
    /// No client compacts the system keyspace, so the state machine does, by revision alone (the same on every member):
    /// it keeps between <see cref="SystemKeyspace.RetainedRevisions"/> and twice as many revisions of history.
    /// </summary>
    private void CompactSystemHistory()
    {
        var floor = system.Revision - SystemKeyspace.RetainedRevisions;
        if (floor - Math.Max(system.CompactRevision, 1) >= SystemKeyspace.RetainedRevisions)
        {
            WaitForCaptures();
            system.Compact(floor);
        }
    }

    private T ApplyWrite<T>(Keyspace space, Func<WriteBatch, T> write, bool needsSpace)
        where T : IMessage
    {
        if (needsSpace)
        {
            RefuseWhileOutOfSpace();
        }

        var batch = space.BeginWrite();
        var response = write(batch);
        batch.Commit();
        return response;
    }

    // Only replicated state decides here: an active NOSPACE alarm (raised through the log by the member that found no
    // space, see HasSpaceFor) refuses every write that needs space, on every member alike (etcd's capped applier).
    private void RefuseWhileOutOfSpace()
    {
        if (alarms.Any(a => a.Alarm == AlarmType.Nospace))
        {
            throw new ConclaveErrorException(ErrorCode.NoSpace, "the NOSPACE alarm is active; compact, then disarm the alarm");
        }
    }

    /// <summary>Bytes both keyspaces hold: the quota counts the configuration center's records too.</summary>
    private long UsedBytes => keyspace.SizeBytes + system.SizeBytes;

    private PutResponse PutIn(WriteBatch batch, PutRequest r)
    {
        var space = batch.Keyspace;
        var exists = space.TryGetVersion(r.Key, batch.ReadRevision, out var existing);
        if ((r.IgnoreValue || r.IgnoreLease) && !exists)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotFound, $"put: key '{r.Key.ToStringUtf8()}' does not exist, so its value or lease cannot be kept");
        }

        var lease = r.IgnoreLease ? existing.Lease : r.Lease;
        if (lease != 0 && leases.Find(lease)?.Keyspace != space.Kind)
        {
            throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"put: lease {lease:x} does not exist");
        }

        if (exists && existing.Lease != 0 && existing.Lease != lease)
        {
            leases.Detach(existing.Lease, r.Key, space.Kind);
        }

        var response = new PutResponse { Header = new ResponseHeader { Revision = batch.Revision } };
        if (r.PrevKv && exists)
        {
            response.PrevKv = existing.ToKeyValue(r.Key);
        }

        if (r.IgnoreValue)
        {
            batch.PutKeepingValue(r.Key, existing, lease);
        }
        else
        {
            batch.Put(r.Key, r.Value, lease);
        }

        if (lease != 0)
        {
            leases.Attach(lease, r.Key, space.Kind);
        }

        return response;
    }

    private DeleteRangeResponse DeleteIn(WriteBatch batch, DeleteRangeRequest r)
    {
        var space = batch.Keyspace;
        var keys = new List<ByteString>();
        space.Scan(r.Key, r.RangeEnd, batch.ReadRevision, kv =>
        {
            keys.Add(kv.Key);
            return true;
        });
        var response = new DeleteRangeResponse();
        foreach (var key in keys)
        {
            var previous = batch.Delete(key);
            if (previous is null)
            {
                continue;
            }

            response.Deleted++;
            if (previous.Lease != 0)
            {
                leases.Detach(previous.Lease, key, space.Kind);
            }

            if (r.PrevKv)
            {
                response.PrevKvs.Add(previous);
            }
        }

        response.Header = new ResponseHeader { Revision = batch.Changed ? batch.Revision : space.Revision };
        return response;
    }

    private CompactionResponse ApplyCompaction(CompactionRequest r)
    {
        WaitForCaptures();
        keyspace.Compact(r.Revision);
        return new CompactionResponse { Header = new ResponseHeader { Revision = keyspace.Revision } };
    }

    private AlarmResponse ApplyAlarm(AlarmRequest r)
    {
        var response = new AlarmResponse { Header = new ResponseHeader { Revision = keyspace.Revision } };
        switch (r.Action)
        {
            case AlarmRequest.Types.AlarmAction.Activate:
                if (r.Alarm != AlarmType.None)
                {
                    alarms.Add((r.MemberID, r.Alarm));
                    response.Alarms.Add(new AlarmMember { MemberID = r.MemberID, Alarm = r.Alarm });
                }

                break;
            case AlarmRequest.Types.AlarmAction.Deactivate:
                var removed = alarms.Where(a => (r.MemberID == 0 || a.Member == r.MemberID) && (r.Alarm == AlarmType.None || a.Alarm == r.Alarm)).ToList();
                foreach (var a in removed)
                {
                    alarms.Remove(a);
                    response.Alarms.Add(new AlarmMember { MemberID = a.Member, Alarm = a.Alarm });
                }

                break;
            default:
                response.Alarms.AddRange(alarms.Select(a => new AlarmMember { MemberID = a.Member, Alarm = a.Alarm }));
                break;
        }

        return response;
    }

    private LeaseGrantResponse ApplyLeaseGrant(LeaseGrantRequest r, KeyspaceKind keyspaceKind)
    {
        if (r.ID == 0)
        {
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, "lease grant reached the log without an id");
        }

        if (leases.Contains(r.ID))
        {
            throw new ConclaveErrorException(ErrorCode.LeaseExists, $"lease {r.ID:x} already exists");
        }

        leases.Grant(r.ID, r.TTL, keyspaceKind);
        return new LeaseGrantResponse { Header = new ResponseHeader { Revision = keyspace.Revision }, ID = r.ID, TTL = r.TTL };
    }

    private LeaseRevokeResponse ApplyLeaseRevoke(LeaseRevokeRequest r, KeyspaceKind keyspaceKind)
    {
        // A keyspace revokes only its own leases: to the other one the lease does not exist.
        if (leases.Find(r.ID) is not { } found || found.Keyspace != keyspaceKind)
        {
            throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"lease {r.ID:x} does not exist");
        }

        var lease = leases.Remove(r.ID)!;

        // Each keyspace deletes the lease's keys at one revision of its own (none when it holds none there).
        foreach (var space in (ReadOnlySpan<Keyspace>)[keyspace, system])
        {
            var batch = space.BeginWrite();
            foreach (var key in lease.KeysIn(space.Kind).OrderBy(k => k, Comparer<ByteString>.Create(KeyOrder.Compare)))
            {
                batch.Delete(key);
            }

            batch.Commit();
        }

        return new LeaseRevokeResponse { Header = new ResponseHeader { Revision = keyspace.Revision } };
    }

    public void Dispose() => gate.Dispose();
}

using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>
/// Hands <see cref="RaftLog"/> to DotNext's <see cref="RaftCluster"/>, which takes its log as an
/// <see cref="IPersistentState"/>.
/// </summary>
/// <remarks>
/// <see cref="IPersistentState"/> has a member only DotNext's own assembly can implement
/// (<c>ConfigurationStorage</c>, whose setter is internal), so a class of ours can implement the interface only
/// by deriving from a DotNext class that does. This one derives from <see cref="WriteAheadLog"/> and lists
/// <see cref="IPersistentState"/> again, which re-implements the interface (C# interface re-implementation): every
/// member below replaces the base class's in the interface map, and only <c>ConfigurationStorage</c> keeps mapping
/// to the base, where RaftCluster stores the membership storage (we give <see cref="RaftLog"/> the same object).
/// The base log is never written: it lives in a directory of its own whose files stay zero-filled (ADR 0007).
/// <c>PersistentStateShellTests</c> fails if a DotNext upgrade changes any of this.
/// </remarks>
internal sealed class PersistentStateShell : WriteAheadLog, IPersistentState
{
    private readonly RaftLog log;

    private PersistentStateShell(Options options, RaftLog log)
        : base(options, IStateMachine.CreateNoOp())
    {
        this.log = log;
    }

    /// <summary>Creates the shell; <paramref name="directory"/> holds the unused base log's (empty) files.</summary>
    public static PersistentStateShell Create(string directory, RaftLog log)
    {
        var shell = new PersistentStateShell(
            new Options
            {
                Location = directory,
                ChunkSize = 64 * 1024,
                MemoryManagement = MemoryManagementStrategy.PrivateMemory,
            },
            log);
        PrivateFiles.Restrict(directory); // DotNext creates them with the process's default mode
        return shell;
    }

    long IPersistentState.Term => log.Term;

    int IPersistentState.Version => 0;

    bool IPersistentState.IsVotedFor(in ClusterMemberId id) => log.IsVotedFor(id);

    ValueTask<long> IPersistentState.IncrementTermAsync(ClusterMemberId member, CancellationToken token) =>
        log.IncrementTermAsync(member, token);

    ValueTask IPersistentState.UpdateTermAsync(long term, bool resetLastVote, CancellationToken token) =>
        log.UpdateTermAsync(term, resetLastVote, token);

    ValueTask IPersistentState.UpdateVotedForAsync(ClusterMemberId member, CancellationToken token) =>
        log.UpdateVotedForAsync(member, token);

    bool IAuditTrail.IsLogEntryLengthAlwaysPresented => true;

    long IAuditTrail.LastCommittedEntryIndex => log.LastCommittedEntryIndex;

    long IAuditTrail.LastEntryIndex => log.LastEntryIndex;

    ValueTask IAuditTrail.WaitForApplyAsync(CancellationToken token) => log.WaitForApplyAsync(token);

    ValueTask IAuditTrail.WaitForApplyAsync(long index, CancellationToken token) => log.WaitForApplyAsync(index, token);

    ValueTask<long> IAuditTrail.CommitAsync(long endIndex, CancellationToken token) => log.CommitAsync(endIndex, token);

    Task IAuditTrail.InitializeAsync(CancellationToken token) => log.InitializeAsync(token);

    ValueTask<TResult> IAuditTrail.ReadAsync<TResult>(ILogEntryConsumer<ILogEntry, TResult> reader, long startIndex, long endIndex, CancellationToken token) =>
        log.ReadAsync(reader, startIndex, endIndex, token);

    ValueTask<TResult> IAuditTrail<IRaftLogEntry>.ReadAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> reader, long startIndex, long endIndex, CancellationToken token) =>
        log.ReadAsync(reader, startIndex, endIndex, token);

    ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntryImpl>(ILogEntryProducer<TEntryImpl> entries, long startIndex, bool skipCommitted, CancellationToken token) =>
        log.AppendAsync(entries, startIndex, skipCommitted, token);

    ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntryImpl>(TEntryImpl entry, long startIndex, CancellationToken token) =>
        log.AppendAsync(entry, startIndex, token);

    ValueTask<long> IAuditTrail<IRaftLogEntry>.AppendAsync<TEntryImpl>(TEntryImpl entry, CancellationToken token) =>
        log.AppendAsync(entry, token);
}

using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>Source-generated log messages of the consensus layer; EventIds 2000-2099.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information,
        Message = "Raft member {MemberName} ({MemberId:x16}) starting: data {DataDirectory}, peer listener {PeerEndpoint}, {MemberCount} member(s)")]
    public static partial void Starting(ILogger logger, string memberName, ulong memberId, string dataDirectory, string peerEndpoint, int memberCount);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
        Message = "Raft member started: last log index {LastIndex}, committed {CommitIndex}, applied {AppliedIndex}, snapshot {SnapshotIndex}")]
    public static partial void Started(ILogger logger, long lastIndex, long commitIndex, long appliedIndex, long snapshotIndex);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Raft member stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Raft member stopped in {ElapsedMs} ms")]
    public static partial void Stopped(ILogger logger, long elapsedMs);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Leader changed to {LeaderName} ({LeaderId:x16}) in term {Term}")]
    public static partial void LeaderChanged(ILogger logger, string leaderName, ulong leaderId, long term);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "No leader known in term {Term}")]
    public static partial void LeaderLost(ILogger logger, long term);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "This one-member cluster moved from peer endpoint {Previous} to {PeerUrl}")]
    public static partial void PeerUrlChanged(ILogger logger, string previous, string peerUrl);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Restoring snapshot {SnapshotFile} (index {Index}, term {Term}, {Bytes} bytes)")]
    public static partial void RestoringSnapshot(ILogger logger, string snapshotFile, long index, long term, long bytes);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Information, Message = "Snapshot at index {Index} (term {Term}) written: {Bytes} bytes, captured in {CaptureMs} ms, persisted in {PersistMs} ms")]
    public static partial void SnapshotWritten(ILogger logger, long index, long term, long bytes, long captureMs, long persistMs);

    [LoggerMessage(EventId = 2098, Level = LogLevel.Information, Message = "Snapshot capture at index {Index} replaces one still waiting to be written (the disk is slower than the snapshot points)")]
    public static partial void SnapshotSuperseded(ILogger logger, long index);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Error, Message = "Snapshot at index {Index} could not be written; the log is kept until the next one")]
    public static partial void SnapshotFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Warning, Message = "Snapshot file {SnapshotFile} is unreadable and is skipped: {Reason}")]
    public static partial void SnapshotUnreadable(ILogger logger, string snapshotFile, string reason);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Information, Message = "Installing snapshot received from the leader at index {Index} (term {Term})")]
    public static partial void InstallingSnapshot(ILogger logger, long index, long term);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Information, Message = "Installed snapshot at index {Index}: {Bytes} bytes, loaded in {TotalMs} ms")]
    public static partial void SnapshotInstalled(ILogger logger, long index, long bytes, long totalMs);

    [LoggerMessage(EventId = 2017, Level = LogLevel.Critical, Message = "Loading the snapshot received from the leader at index {Index} failed; this member stops applying")]
    public static partial void SnapshotRestoreFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "Fetching {Snapshot} from {Source}: {FromBytes} bytes already here")]
    public static partial void SnapshotFetchStarted(ILogger logger, string snapshot, string source, long fromBytes);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information, Message = "Snapshot {Index}: {Bytes} of {Total} bytes received ({Percent}%, {MegabytesPerSecond} MB/s)")]
    public static partial void SnapshotFetchProgress(ILogger logger, long index, long bytes, long total, int percent, long megabytesPerSecond);

    [LoggerMessage(EventId = 2099, Level = LogLevel.Information, Message = "Fetching snapshot {Index} again, from {Source} at byte {Offset} of {Total}")]
    public static partial void SnapshotFetchResumed(ILogger logger, long index, string source, long offset, long total);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Warning, Message = "Fetching snapshot {Index} stopped at {Bytes} of {Total} bytes ({Reason}); resuming from there in {DelayMs} ms")]
    public static partial void SnapshotFetchInterrupted(ILogger logger, long index, long bytes, long total, string reason, long delayMs);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Information, Message = "Snapshot {Index} received and verified: {Bytes} bytes in {ElapsedMs} ms ({MegabytesPerSecond} MB/s, {Interruptions} interruption(s))")]
    public static partial void SnapshotFetched(ILogger logger, long index, long bytes, long elapsedMs, long megabytesPerSecond, int interruptions);

    [LoggerMessage(EventId = 2114, Level = LogLevel.Error, Message = "Snapshot {Index} failed verification after download and is fetched again from the start: {Reason}")]
    public static partial void SnapshotFetchCorrupt(ILogger logger, long index, string reason);

    [LoggerMessage(EventId = 2115, Level = LogLevel.Information, Message = "Serving snapshot {Index} ({Bytes} bytes) to {Peer} from byte {Offset}; the log after it is kept until the transfer ends")]
    public static partial void SnapshotServing(ILogger logger, long index, long bytes, string peer, long offset);

    [LoggerMessage(EventId = 2117, Level = LogLevel.Debug, Message = "Snapshot fetch by {Peer} ended early: {Reason}")]
    public static partial void SnapshotServeEnded(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 2116, Level = LogLevel.Error, Message = "Cannot fetch {Snapshot}: {Reason}")]
    public static partial void SnapshotFetchRefused(ILogger logger, string snapshot, string reason);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Debug, Message = "Deleted snapshot {SnapshotFile} older than index {Watermark}")]
    public static partial void SnapshotDeleted(ILogger logger, string snapshotFile, long watermark);

    [LoggerMessage(EventId = 2118, Level = LogLevel.Warning, Message = "Deleting {File} failed ({Reason}); it is tried again later (at the next snapshot, or the next start)")]
    public static partial void FileDeleteFailed(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Warning, Message = "Proposal batch of {Commands} command(s) failed: {Reason}")]
    public static partial void BatchFailed(ILogger logger, int commands, string reason);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Error, Message = "State machine returned {Actual} results for a batch of {Expected} commands at index {Index}")]
    public static partial void ResultCountMismatch(ILogger logger, long index, int expected, int actual);

    [LoggerMessage(EventId = 2032, Level = LogLevel.Critical, Message = "The proposal pipeline stopped unexpectedly")]
    public static partial void PipelineCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2040, Level = LogLevel.Information, Message = "Member {PeerUrl} (id {MemberId:x}) added: joining once it answers and has caught up")]
    public static partial void MemberJoining(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2041, Level = LogLevel.Information, Message = "Member {PeerUrl} (id {MemberId:x}) caught up and joined the configuration")]
    public static partial void MemberJoined(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2042, Level = LogLevel.Debug, Message = "Member {PeerUrl} did not join yet: {Reason}")]
    public static partial void MemberJoinAttemptFailed(ILogger logger, string peerUrl, string reason);

    [LoggerMessage(EventId = 2043, Level = LogLevel.Warning, Message = "This member stopped leading and could not hand member {PeerUrl} (id {MemberId:x}) to a new leader: add it again")]
    public static partial void MemberJoinDropped(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2044, Level = LogLevel.Information, Message = "Joining member {PeerUrl} (id {MemberId:x}) removed before it joined")]
    public static partial void MemberJoinCancelled(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2045, Level = LogLevel.Information, Message = "Member {PeerAddress} (id {MemberId:x}) removed from the configuration")]
    public static partial void MemberRemoved(ILogger logger, string peerAddress, ulong memberId);

    [LoggerMessage(EventId = 2046, Level = LogLevel.Warning, Message = "This member ({Name}) was removed from the cluster; it stops serving")]
    public static partial void LocalMemberRemoved(ILogger logger, string name);

    [LoggerMessage(EventId = 2047, Level = LogLevel.Warning, Message = "Member {MemberId:x} is removed (committed) but the Raft engine still lists it")]
    public static partial void MemberListLagging(ILogger logger, ulong memberId);

    [LoggerMessage(EventId = 2048, Level = LogLevel.Information, Message = "Asked to remove this member while it leads: stepping aside (standby) so that the next leader removes it")]
    public static partial void SteppingAsideForRemoval(ILogger logger);

    [LoggerMessage(EventId = 2049, Level = LogLevel.Information, Message = "This member stopped leading; joining member {PeerUrl} (id {MemberId:x}) handed over to the new leader")]
    public static partial void MemberJoinHandedOver(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2050, Level = LogLevel.Information, Message = "This member is a learner: it follows the leader's committed log from index {FromIndex} and does not vote")]
    public static partial void LearnerFollowing(ILogger logger, long fromIndex);

    [LoggerMessage(EventId = 2051, Level = LogLevel.Debug, Message = "Learner feed from {Url} ended: {Reason}")]
    public static partial void LearnerFeedEnded(ILogger logger, string url, string reason);

    [LoggerMessage(EventId = 2056, Level = LogLevel.Warning, Message = "Learner: the leader's {Snapshot} could not be fetched ({Reason}); asking the leader for its current snapshot")]
    public static partial void LearnerSnapshotFetchFailed(ILogger logger, string snapshot, string reason);

    [LoggerMessage(EventId = 2052, Level = LogLevel.Information, Message = "Learner promoted at index {Index}: it joins as a voting member")]
    public static partial void LearnerPromoted(ILogger logger, long index);

    [LoggerMessage(EventId = 2053, Level = LogLevel.Information, Message = "Learner {MemberId:x} follows this leader from index {FromIndex}")]
    public static partial void FollowerAttached(ILogger logger, ulong memberId, long fromIndex);

    [LoggerMessage(EventId = 2054, Level = LogLevel.Information, Message = "Learner {MemberId:x} is behind the compacted log: it fetches snapshot {Index} ({Bytes} bytes) from this member")]
    public static partial void FollowerSnapshot(ILogger logger, ulong memberId, long index, long bytes);

    [LoggerMessage(EventId = 2055, Level = LogLevel.Information, Message = "Promoting learner {MemberId:x}: it stopped following at index {Index}; adding it as a voting member")]
    public static partial void PromotingLearner(ILogger logger, ulong memberId, long index);

    [LoggerMessage(EventId = 2080, Level = LogLevel.Warning, Message = "Raft log segment {Path} ends in a torn write at offset {Offset} ({Bytes} bytes discarded: {Reason}); it was never acknowledged")]
    public static partial void WalTornTail(ILogger logger, string path, long offset, long bytes, string reason);

    [LoggerMessage(EventId = 2081, Level = LogLevel.Critical, Message = "Raft log segment {Path} is damaged at offset {Offset}: {Reason}. The log was copied to {QuarantineDirectory} and keeps its intact prefix, through entry {KeptThrough}; a leader sends later committed entries again, a lone member has lost them")]
    public static partial void WalDamaged(ILogger logger, string path, long offset, string reason, string quarantineDirectory, long keptThrough);

    [LoggerMessage(EventId = 2082, Level = LogLevel.Warning, Message = "Preparing the next Raft log segment failed ({Reason}); it is prepared again when needed")]
    public static partial void WalSpareFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2083, Level = LogLevel.Critical, Message = "Writing the Raft log failed; this member takes no more writes until it is restarted")]
    public static partial void WalWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2084, Level = LogLevel.Warning, Message = "Deleting a Raft log segment behind the snapshot failed: {Reason}")]
    public static partial void WalDeleteFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2086, Level = LogLevel.Error, Message = "The leader refused a batch of {Count} command(s) this member forwarded; they fail: {Reason}")]
    public static partial void ForwardedBatchRefused(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 2087, Level = LogLevel.Warning, Message = "Refused a batch forwarded by member {FromMember:x16}: {Reason}")]
    public static partial void ForwardedBatchInvalid(ILogger logger, ulong fromMember, string reason);
}

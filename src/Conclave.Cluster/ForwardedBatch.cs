using Conclave.Api.Raft;
using Google.Protobuf;

namespace Conclave.Cluster;

/// <summary>
/// The leader's check of a batch a follower forwards, before it is appended (ADR 0008): the log must never hold an entry
/// that some member cannot apply, so the leader trusts no proposer, not even a member. Checked: the size, that it parses
/// (with protobuf's depth limit), the format version this build writes, the origin (the sending member, one of the
/// configuration, written first as every member's batches are), the number of commands, and every command's shape as the
/// state machine states it (<see cref="IReplicatedStateMachine.ValidateCommand"/>).
/// </summary>
internal static class ForwardedBatch
{
    /// <exception cref="ArgumentException">The batch is refused; the message says why. Nothing was appended.</exception>
    public static void Validate(ReadOnlySpan<byte> payload, ulong fromMember, Func<ulong, bool> isVotingMember, RaftNodeOptions options, IReplicatedStateMachine machine)
    {
        if (payload.Length > options.MaxForwardedBatchBytes)
        {
            throw Refuse($"it holds {payload.Length} bytes; a forwarded batch holds at most {options.MaxForwardedBatchBytes}");
        }

        if (!ProposalBatch.TryReadOrigin(payload, out var origin, out _) || origin == 0)
        {
            throw Refuse("it does not start with format version 1 and an origin member, as every member writes its batches");
        }

        if (origin != fromMember)
        {
            throw Refuse($"its origin {origin:x16} is not the member that sent it ({fromMember:x16})");
        }

        if (!isVotingMember(origin))
        {
            throw Refuse($"its origin {origin:x16} is not a voting member of this cluster");
        }

        CommandBatch batch;
        try
        {
            batch = CommandBatch.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Refuse($"it is not a conclave.raft.v1.CommandBatch ({e.Message})");
        }

        if (batch.FormatVersion is < ProposalBatch.OldestFormatVersion or > ProposalBatch.CurrentFormatVersion)
        {
            throw Refuse($"it claims command format {batch.FormatVersion}; this cluster's leader accepts formats {ProposalBatch.OldestFormatVersion} to {ProposalBatch.CurrentFormatVersion}");
        }

        if (batch.Commands.Count == 0 || batch.Commands.Count > options.MaxBatchCommands)
        {
            throw Refuse($"it holds {batch.Commands.Count} commands; a batch holds 1 to {options.MaxBatchCommands}");
        }

        for (var i = 0; i < batch.Commands.Count; i++)
        {
            try
            {
                machine.ValidateCommand(batch.Commands[i]);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw Refuse($"command {i} cannot be applied: {e.Message}");
            }
        }
    }

    private static ArgumentException Refuse(string why) => new($"The leader refused a forwarded batch: {why}. Nothing was appended.");
}

using Conclave.Api.Raft;

namespace Conclave.Cluster;

/// <summary>One client command waiting for its entry to be committed and applied; completes with its result.</summary>
internal sealed class Proposal(Command command, int size) : TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public Command Command { get; } = command;

    /// <summary>Serialized size of <see cref="Command"/>, computed once.</summary>
    public int Size { get; } = size;

    /// <summary>The proposer's span while something traces (<see cref="ClusterTracing"/>), else null.</summary>
    public System.Diagnostics.Activity? Caller { get; init; }
}

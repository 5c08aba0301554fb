namespace Conclave.Cluster;

/// <summary>The <see cref="ConsensusUnavailableException"/>s raised in more than one place.</summary>
internal static class Unavailable
{
    /// <summary>This member is stopping; <paramref name="notApplied"/> when the request was never handed on.</summary>
    public static ConsensusUnavailableException Stopping(Exception? inner = null, bool notApplied = false) =>
        new(ConsensusUnavailableReason.Stopping, "This member is stopping.", inner, notApplied);

    /// <summary>A proposal failed in the Raft log: a full disk or another write failure when an I/O error is the cause.</summary>
    public static ConsensusUnavailableException LogFailed(Exception e)
    {
        var io = IoFailure(e);
        var reason = io is null ? ConsensusUnavailableReason.LogWriteFailed
            : IsDiskFull(io) ? ConsensusUnavailableReason.DiskFull
            : ConsensusUnavailableReason.LogWriteFailed;
        return new(reason, $"The proposal failed in the Raft log: {e.Message}", e);
    }

    private static IOException? IoFailure(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is IOException io)
            {
                return io;
            }
        }

        return null;
    }

    // ENOSPC (28) on Linux, ERROR_DISK_FULL (112) on Windows, possibly under a wrapper that names it in its message.
    private static bool IsDiskFull(IOException io)
    {
        for (Exception? inner = io; inner is not null; inner = inner.InnerException)
        {
            if (inner.HResult is 28 or 112 || inner.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

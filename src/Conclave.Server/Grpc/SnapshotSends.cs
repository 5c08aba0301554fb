namespace Conclave.Server.Grpc;

/// <summary>
/// The Maintenance snapshots this member is sending. Each holds a whole image of the state while its client reads it
/// (spooled to an unlinked file of the data directory; before that, in memory: 16 streams over a 95 MiB state that read
/// one chunk each took the member from 275 MiB to 3.2 GiB of resident memory), and one connection may open
/// <c>--max-concurrent-streams</c> of them. At most <see cref="ServerOptions.MaxConcurrentSnapshots"/> are sent at once;
/// others are refused at once.
/// </summary>
internal sealed class SnapshotSends
{
    private int sending;

    /// <summary>Counts a snapshot in if fewer than <paramref name="max"/> are being sent; the caller <see cref="Exit"/>s when done.</summary>
    public bool TryEnter(int max)
    {
        while (true)
        {
            var now = Volatile.Read(ref sending);
            if (now >= max)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref sending, now + 1, now) == now)
            {
                return true;
            }
        }
    }

    public void Exit() => Interlocked.Decrement(ref sending);
}

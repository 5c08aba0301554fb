namespace Conclave.Cluster.Peers;

/// <summary>
/// Decides which refused peer connections are logged at Warning: the first from (or to) an address, then none from it
/// for <see cref="Quiet"/>. A member with a wrong certificate retries every heartbeat, and anyone can open connections:
/// the operator hears of each source once a minute, never a flood (the rest are logged at Debug). Remembers at most
/// <see cref="MaxAddresses"/> addresses.
/// </summary>
internal sealed class RefusalWarnings(TimeProvider time)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromMinutes(1);

    public const int MaxAddresses = 1024;

    private readonly Dictionary<string, long> lastWarned = new(StringComparer.Ordinal);

    /// <summary>Whether a refusal concerning <paramref name="address"/> is to be logged at Warning now.</summary>
    public bool ShouldWarn(string address)
    {
        var now = time.GetTimestamp();
        lock (lastWarned)
        {
            if (lastWarned.TryGetValue(address, out var last) && time.GetElapsedTime(last, now) < Quiet)
            {
                return false;
            }

            if (lastWarned.Count >= MaxAddresses)
            {
                lastWarned.Clear();
            }

            lastWarned[address] = now;
            return true;
        }
    }
}

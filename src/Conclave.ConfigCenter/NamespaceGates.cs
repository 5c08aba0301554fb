namespace Conclave.ConfigCenter;

/// <summary>
/// Changes of one namespace made through one member run one at a time. Every change is an optimistic transaction
/// guarded by the namespace record, so concurrent changes of one namespace would otherwise race: all but one fail
/// their guard, read again and retry, each failed round a replicated transaction of its own, and with a dozen busy
/// writers (an import tool, a CI pipeline, several editors) one of them could lose every round and get a conflict for
/// an edit nobody else touched. Queued here, a change races only with changes made through other members, which the
/// guard and the retries still handle. A gate exists while someone holds or waits for it.
/// </summary>
internal sealed class NamespaceGates
{
    private readonly Dictionary<string, Gate> gates = new(StringComparer.Ordinal);

    // The gates this logical flow holds: a change made from inside another change of the same namespace passes.
    private readonly AsyncLocal<HashSet<string>?> held = new();

    /// <summary>Waits for <paramref name="key"/>'s gate; dispose the result to let the next change in.</summary>
    public async ValueTask<Entered> EnterAsync(string key, CancellationToken cancellationToken)
    {
        if (held.Value?.Contains(key) == true)
        {
            return default;
        }

        Gate gate;
        lock (gates)
        {
            if (!gates.TryGetValue(key, out gate!))
            {
                gates[key] = gate = new Gate();
            }

            gate.Users++;
        }

        try
        {
            await gate.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, gate, entered: false);
            throw;
        }

        return new Entered(this, key, gate);
    }

    /// <summary>Marks <paramref name="key"/> as held by the calling flow (call in the method that holds the gate, so it reverts when that method returns).</summary>
    public void MarkHeld(string key) => held.Value = new HashSet<string>(held.Value ?? [], StringComparer.Ordinal) { key };

    /// <summary>Gates in use now (holders or waiters): for tests.</summary>
    internal int Count
    {
        get
        {
            lock (gates)
            {
                return gates.Count;
            }
        }
    }

    private void Leave(string key, Gate gate, bool entered)
    {
        if (entered)
        {
            gate.Semaphore.Release();
        }

        lock (gates)
        {
            if (--gate.Users == 0)
            {
                gates.Remove(key);
                gate.Semaphore.Dispose();
            }
        }
    }

    internal sealed class Gate
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    /// <summary>A held gate (default when the flow already held it: nothing to release).</summary>
    public readonly struct Entered(NamespaceGates? owner, string key, Gate? gate) : IDisposable
    {
        public bool Holds => owner is not null;

        public void Dispose() => owner?.Leave(key, gate!, entered: true);
    }
}

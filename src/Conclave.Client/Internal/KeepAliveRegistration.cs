using System.Threading.Channels;

namespace Conclave.Client.Internal;

/// <summary>
/// One party interested in keeping a lease alive (a session, or a <see cref="ConclaveClient.KeepAliveAsync"/>
/// enumeration). It learns the answers (when it asked for them) and, exactly once, that the lease is over.
/// </summary>
internal sealed class KeepAliveRegistration : IDisposable
{
    private readonly KeepAliveMultiplexer _owner;
    private readonly CancellationTokenSource _lost = new();

    // Only the newest answer matters to a keep-alive consumer: a full buffer drops the oldest, never blocks the
    // stream that serves every other lease of the client.
    private readonly Channel<LeaseKeepAliveResult>? _answers;
    private int _ended;

    public KeepAliveRegistration(KeepAliveMultiplexer owner, long leaseId, bool wantsAnswers)
    {
        _owner = owner;
        LeaseId = leaseId;
        if (wantsAnswers)
        {
            _answers = Channel.CreateBounded<LeaseKeepAliveResult>(new BoundedChannelOptions(16)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = false,
            });
        }
    }

    public long LeaseId { get; }

    /// <summary>Cancelled once the lease is over for this registration (lost, or closed by its owner).</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Why it ended; null while it is alive. Set before <see cref="Lost"/> fires.</summary>
    public LeaseLostReason? Reason { get; private set; }

    public ChannelReader<LeaseKeepAliveResult> Answers => _answers?.Reader ?? throw new InvalidOperationException("This registration does not receive answers.");

    public void Deliver(LeaseKeepAliveResult answer) => _answers?.Writer.TryWrite(answer);

    /// <summary>Ends the registration with <paramref name="reason"/>; only the first call counts.</summary>
    public void End(LeaseLostReason reason, Exception? failure = null)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        Reason = reason;
        _answers?.Writer.TryComplete(failure ?? new LeaseLostException(LeaseId, reason));

        // Callbacks of the token run on the thread pool: a handler that blocks must not stall the keep-alive loop.
        _ = _lost.CancelAsync();
    }

    /// <summary>Stops keeping the lease alive for this party; ends it as <see cref="LeaseLostReason.Closed"/> if it was still alive.</summary>
    public void Dispose()
    {
        _owner.Unregister(this);
        End(LeaseLostReason.Closed);
    }

    /// <summary>Stops keeping the lease alive without ending the registration yet (the owner ends it later with its own reason).</summary>
    public void Detach() => _owner.Unregister(this);
}

namespace Conclave.Client;

/// <summary>Options of a write (<see cref="ConclaveClient.PutAsync(string, string, PutOptions?, CancellationToken)"/>).</summary>
public sealed record PutOptions
{
    /// <summary>Lease to attach the key to; zero means none.</summary>
    public long Lease { get; init; }

    /// <summary>Return the key-value pair as it was before this write.</summary>
    public bool PrevKv { get; init; }

    /// <summary>Keep the current value and only update the lease (the key must exist).</summary>
    public bool IgnoreValue { get; init; }

    /// <summary>Keep the current lease and only update the value (the key must exist).</summary>
    public bool IgnoreLease { get; init; }
}

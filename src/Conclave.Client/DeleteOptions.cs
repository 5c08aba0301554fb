using Google.Protobuf;

namespace Conclave.Client;

/// <summary>Options of a delete (<see cref="ConclaveClient.DeleteAsync(string, DeleteOptions?, CancellationToken)"/>).</summary>
public sealed record DeleteOptions
{
    /// <summary>Delete every key that starts with the given key.</summary>
    public bool Prefix { get; init; }

    /// <summary>Delete every key greater than or equal to the given key.</summary>
    public bool FromKey { get; init; }

    /// <summary>Exclusive end of the key range; <c>null</c> deletes a single key (unless <see cref="Prefix"/> or <see cref="FromKey"/>).</summary>
    public ByteString? RangeEnd { get; init; }

    /// <summary>Return the deleted key-value pairs.</summary>
    public bool PrevKv { get; init; }
}

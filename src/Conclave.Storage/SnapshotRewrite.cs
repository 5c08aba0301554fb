namespace Conclave.Storage;

/// <summary>How <see cref="SnapshotImage.Rewrite"/> changes an image on its way.</summary>
public sealed record SnapshotRewrite
{
    /// <summary>System keys starting with this prefix are left out, every version of them (null keeps all).</summary>
    public string? DropSystemKeyPrefix { get; init; }

    /// <summary>Leave out the alarms (they name members of the cluster the image came from).</summary>
    public bool DropAlarms { get; init; }

    /// <summary>The applied index to write instead of the image's (null keeps it).</summary>
    public long? AppliedIndex { get; init; }
}

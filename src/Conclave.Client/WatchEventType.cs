namespace Conclave.Client;

/// <summary>Kind of change a <see cref="WatchEvent"/> reports.</summary>
public enum WatchEventType
{
    /// <summary>The key was created or updated.</summary>
    Put = 0,

    /// <summary>The key was deleted.</summary>
    Delete = 1,
}

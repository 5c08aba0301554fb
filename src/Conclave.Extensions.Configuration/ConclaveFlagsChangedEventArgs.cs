namespace Conclave.Extensions.Configuration;

/// <summary>Which flags a release added, removed or defined differently.</summary>
public sealed class ConclaveFlagsChangedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="flags">The flags whose definitions changed.</param>
    public ConclaveFlagsChangedEventArgs(IReadOnlyList<string> flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        Flags = flags;
    }

    /// <summary>The names of the flags added, removed or defined differently, sorted ordinally.</summary>
    public IReadOnlyList<string> Flags { get; }
}

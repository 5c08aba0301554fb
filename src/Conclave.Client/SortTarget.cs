namespace Conclave.Client;

/// <summary>Field a range read is sorted by.</summary>
public enum SortTarget
{
    /// <summary>Sort by key bytes.</summary>
    Key = 0,

    /// <summary>Sort by version.</summary>
    Version = 1,

    /// <summary>Sort by creation revision.</summary>
    CreateRevision = 2,

    /// <summary>Sort by last modification revision.</summary>
    ModRevision = 3,

    /// <summary>Sort by value bytes.</summary>
    Value = 4,
}

namespace Conclave.Client;

/// <summary>Direction of the sort of a range read.</summary>
public enum SortOrder
{
    /// <summary>No sorting requested: the server returns keys in key order.</summary>
    None = 0,

    /// <summary>Ascending.</summary>
    Ascend = 1,

    /// <summary>Descending.</summary>
    Descend = 2,
}

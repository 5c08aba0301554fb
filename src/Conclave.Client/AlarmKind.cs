namespace Conclave.Client;

/// <summary>Kind of alarm raised on a member.</summary>
public enum AlarmKind
{
    /// <summary>No alarm.</summary>
    None = 0,

    /// <summary>The storage quota is exhausted; writes are rejected until space is freed and the alarm disarmed.</summary>
    NoSpace = 1,

    /// <summary>Data corruption was detected.</summary>
    Corrupt = 2,
}

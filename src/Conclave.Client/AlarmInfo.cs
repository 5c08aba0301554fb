namespace Conclave.Client;

/// <summary>An alarm raised on a member.</summary>
/// <param name="MemberId">Member the alarm is raised on.</param>
/// <param name="Kind">Kind of alarm.</param>
public sealed record AlarmInfo(ulong MemberId, AlarmKind Kind);

namespace Conclave.ConfigCenter.Model;

/// <summary>An active gray release of a namespace: the release and who gets it.</summary>
public sealed record GrayState(long ReleaseId, GrayRule Rule);

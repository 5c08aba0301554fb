namespace Conclave.Server.Http;

/// <summary>One member as the console lists it.</summary>
public sealed record MemberView(string Id, string Name, IReadOnlyList<string> PeerUrls, IReadOnlyList<string> ClientUrls, bool IsLearner, bool IsLeader, bool IsSelf);

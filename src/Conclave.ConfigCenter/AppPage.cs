using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>One page of apps in id order, and the id to pass as <c>after</c> for the next page (null on the last page).</summary>
public sealed record AppPage(IReadOnlyList<AppRecord> Items, string? Next);

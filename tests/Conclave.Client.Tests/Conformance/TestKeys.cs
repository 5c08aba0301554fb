namespace Conclave.Client.Tests.Conformance;

internal static class TestKeys
{
    /// <summary>A prefix no other test uses, so tests can share one server.</summary>
    public static string UniquePrefix(string test) => $"/t/{test}/{Guid.NewGuid():N}/";

    public static CancellationTokenSource Timeout(int seconds = 15) => new(TimeSpan.FromSeconds(seconds));
}

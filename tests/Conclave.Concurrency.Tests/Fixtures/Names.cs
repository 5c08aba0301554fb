namespace Conclave.Concurrency.Tests.Fixtures;

/// <summary>Unique key, lock and election names, so tests sharing a node never see each other's keys.</summary>
internal static class Names
{
    private static int counter;

    public static string Unique(string what) => $"{what}-{Interlocked.Increment(ref counter)}-{Guid.NewGuid():N}"[..(what.Length + 14)];
}

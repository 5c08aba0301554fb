namespace Conclave.Server.Tests.Fixtures;

internal static class Keys
{
    /// <summary>A prefix no other test uses, readable in failure output.</summary>
    public static string Unique(string name) => $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)];
}

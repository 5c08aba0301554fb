namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Tests that measure the process's memory or CPU share run alone: other test classes' servers would add their own
/// growth and load to the figures.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasuringCollection
{
    public const string Name = "Measures the whole process";
}

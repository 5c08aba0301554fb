namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Tests that measure the process heap as the in-process member's (GC.GetTotalMemory after a full collection) run alone:
/// with other test classes running beside them, another class's member and its state showed up as growth (CI once saw
/// the heap step up 39 MB between two samples of DocumentBoundsPropertyTests while it validated nothing that is kept).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasurements
{
    public const string Name = "Heap measurements (run alone)";
}

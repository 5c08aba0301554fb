using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>Writing to a test's output from background threads, which may outlive the test.</summary>
public static class TestOutput
{
    /// <summary>Writes a line; silently drops it once the test has finished (xunit throws then).</summary>
    public static void TryWriteLine(ITestOutputHelper? output, string line)
    {
        if (output is null)
        {
            return;
        }

        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // "There is no currently active test": a server still logging while it stops.
        }
    }
}

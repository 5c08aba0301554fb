using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Conclave.Testing.Linearizability;

/// <summary>
/// Checks a recorded history of single-key register operations (put, get, delete, compare-and-set) for
/// linearizability: is there one order of the operations, consistent with their real-time call/return intervals,
/// that a single register per key would have produced? Keys are independent registers, so the history is checked
/// key by key (linearizability is compositional). On failure it reports the smallest offending sub-history it finds.
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>Default time budget for a whole check.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Checks <paramref name="history"/>.</summary>
    /// <param name="history">The operations; failed ones are ignored, unknown ones may or may not have taken effect.</param>
    /// <param name="timeout">Budget for the search (not the minimization); <see cref="DefaultTimeout"/> when null.</param>
    public static LinearizabilityResult Check(IEnumerable<Operation> history, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        var all = history.ToList();
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? DefaultTimeout).TotalSeconds * Stopwatch.Frequency);
        var keys = Relevant(all)
            .GroupBy(static o => o.Key, StringComparer.Ordinal)
            .OrderBy(static g => g.Key, StringComparer.Ordinal)
            .ToList();
        string? undecided = null;
        foreach (var key in keys)
        {
            var operations = key.OrderBy(static o => o.Call).ThenBy(static o => o.Id).ToList();
            var verdict = RegisterSearch.Check(operations, deadline);
            if (verdict == LinearizabilityVerdict.NotLinearizable)
            {
                var smallest = Minimize(operations);
                return new LinearizabilityResult(verdict, key.Key, smallest, Describe(key.Key, smallest, operations.Count, all.Count));
            }

            if (verdict == LinearizabilityVerdict.Inconclusive)
            {
                undecided ??= key.Key;
            }
        }

        return undecided is null
            ? new LinearizabilityResult(LinearizabilityVerdict.Linearizable, null, [], $"Linearizable: {all.Count} operations on {keys.Count} keys.")
            : new LinearizabilityResult(LinearizabilityVerdict.Inconclusive, undecided, [], $"Inconclusive: the search on key \"{undecided}\" did not finish within {timeout ?? DefaultTimeout}.");
    }

    /// <summary>Throws with the checker's report unless the history is linearizable.</summary>
    public static void AssertLinearizable(IEnumerable<Operation> history, TimeSpan? timeout = null)
    {
        var result = Check(history, timeout);
        if (!result.IsLinearizable)
        {
            throw new LinearizabilityException(result);
        }
    }

    // Failed operations never took effect; a read with an unknown outcome says nothing.
    private static IEnumerable<Operation> Relevant(IEnumerable<Operation> history) =>
        history.Where(static o => o.Outcome != OperationOutcome.Failed && !(o.Outcome == OperationOutcome.Unknown && o.Input.Kind == RegisterOperationKind.Get));

    /// <summary>
    /// Shrinks a failing key history: first the shortest failing prefix in call order (doubling, then bisecting),
    /// then greedily drops single operations while the rest still fails. Writes that an operation left in depends on
    /// are never dropped (see <see cref="DependsOn"/>), so the result never fails merely because the write that
    /// explains a read was cut away: every failure it shows is one of the original history.
    /// </summary>
    private static List<Operation> Minimize(List<Operation> operations)
    {
        bool Fails(List<Operation> candidate) =>
            RegisterSearch.Check(candidate, Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 5)) == LinearizabilityVerdict.NotLinearizable;

        var passing = 0;
        var failing = operations.Count;
        for (var length = 1; length < operations.Count; length *= 2)
        {
            if (Fails(Closure(operations, length)))
            {
                failing = length;
                break;
            }

            passing = length;
        }

        while (failing - passing > 1)
        {
            var middle = (passing + failing) / 2;
            if (Fails(Closure(operations, middle)))
            {
                failing = middle;
            }
            else
            {
                passing = middle;
            }
        }

        // Passes until nothing more can go: dropping a read can free the write it depended on.
        var smallest = Closure(operations, failing);
        bool dropped;
        do
        {
            dropped = false;
            for (var i = 0; i < smallest.Count;)
            {
                var candidate = smallest.Where((_, j) => j != i).ToList();
                if (!candidate.Any(o => DependsOn(o, smallest[i])) && Fails(candidate))
                {
                    smallest = candidate;
                    dropped = true;
                }
                else
                {
                    i++;
                }
            }
        }
        while (dropped);

        return smallest;
    }

    /// <summary>The first <paramref name="length"/> operations by call time, plus every write they depend on.</summary>
    private static List<Operation> Closure(List<Operation> operations, int length)
    {
        var included = new HashSet<Operation>(operations.Take(length));
        var pending = new Queue<Operation>(included);
        while (pending.TryDequeue(out var operation))
        {
            foreach (var write in operations)
            {
                if (!included.Contains(write) && DependsOn(operation, write))
                {
                    included.Add(write);
                    pending.Enqueue(write);
                }
            }
        }

        return [.. operations.Where(included.Contains)];
    }

    /// <summary>
    /// Whether <paramref name="reader"/>'s result may rest on <paramref name="write"/>: it observed the value the write
    /// wrote (absence for a delete), or it is a failed compare-and-set, whose "not equal" any earlier write may explain.
    /// </summary>
    private static bool DependsOn(Operation reader, Operation write)
    {
        if (ReferenceEquals(reader, write) || write.Call >= reader.Return || !IsWrite(write))
        {
            return false;
        }

        var written = write.Input.Kind == RegisterOperationKind.Delete ? null : write.Input.Value;
        return reader.Input.Kind switch
        {
            RegisterOperationKind.Get => reader.Output?.Value == written,
            RegisterOperationKind.CompareAndSet when reader.Output?.Succeeded == false => true,
            RegisterOperationKind.CompareAndSet => reader.Input.Expected == written,
            _ => false,
        };
    }

    private static bool IsWrite(Operation operation) =>
        operation.Input.Kind != RegisterOperationKind.Get && !(operation.Input.Kind == RegisterOperationKind.CompareAndSet && operation.Output?.Succeeded == false);

    private static string Describe(string key, List<Operation> smallest, int keyCount, int total)
    {
        var origin = smallest.Min(static o => o.Call);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Not linearizable: key \"{key}\" ({keyCount} of {total} operations in the history are on it).\n");
        text.Append(CultureInfo.InvariantCulture, $"Smallest sub-history found that no register could produce ({smallest.Count} operations; times in ms from its first call, ∞ = outcome unknown):\n");
        foreach (var o in smallest)
        {
            var call = Milliseconds(o.Call - origin);
            var ret = o.Return == Operation.Infinity ? "∞" : Milliseconds(o.Return - origin);
            text.Append(CultureInfo.InvariantCulture, $"  [{call,10} .. {ret,10}]  {o}\n");
        }

        return text.ToString();
    }

    private static string Milliseconds(long ticks) => (ticks / (double)TimeSpan.TicksPerMillisecond).ToString("F3", CultureInfo.InvariantCulture);
}

using Conclave.Testing.Linearizability;

namespace Conclave.Linearizability.Tests;

/// <summary>
/// Histories generated from a real sequential execution: each operation takes effect at a point inside a random
/// interval around it, so the history is linearizable by construction. Making one read stale must be caught.
/// </summary>
public sealed class RandomHistoryTests
{
    public static TheoryData<int> Seeds() => new(Enumerable.Range(1, 40));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Histories_from_a_sequential_execution_are_linearizable(int seed)
    {
        var history = Generate(new Random(seed), operations: 300);

        var result = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(20));

        Assert.True(result.IsLinearizable, result.Report);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void The_same_history_with_one_stale_read_is_not(int seed)
    {
        var random = new Random(seed);
        var history = Generate(random, operations: 300);
        var stale = StaleReadCandidates(history).ToList();
        Assert.NotEmpty(stale);
        var (read, oldValue) = stale[random.Next(stale.Count)];
        history[read.Id] = read with { Output = RegisterOutput.Read(oldValue) };

        var result = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(20));

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(read.Key, result.Key);
        Assert.Contains(result.Counterexample, o => o.Id == read.Id);
    }

    /// <summary>
    /// Runs random operations on three keys one after another (operation i takes effect at time 10·i) and gives
    /// each an interval around that point, up to 35 before and after, so neighbours overlap. About one write in
    /// ten loses its answer (unknown outcome); every value written is unique.
    /// </summary>
    private static List<Operation> Generate(Random random, int operations)
    {
        var state = new Dictionary<string, string?>();
        var history = new List<Operation>(operations);
        var lastReturnOf = new Dictionary<int, long>();
        for (var i = 0; i < operations; i++)
        {
            var key = $"k{random.Next(3)}";
            var current = state.GetValueOrDefault(key);
            var input = random.Next(10) switch
            {
                < 4 => RegisterInput.Get(),
                < 7 => RegisterInput.Put($"v{i}"),
                < 8 => RegisterInput.Delete(),
                _ => RegisterInput.CompareAndSet(random.Next(2) == 0 ? current : $"v{random.Next(i + 1)}", $"v{i}"),
            };
            Assert.True(RegisterModel.Step(current, input, null, out var next));
            var output = input.Kind switch
            {
                RegisterOperationKind.Get => RegisterOutput.Read(current),
                RegisterOperationKind.CompareAndSet => RegisterOutput.Swapped(current == input.Expected),
                _ => RegisterOutput.Done,
            };
            state[key] = next;

            // A client runs one operation at a time: pick a client whose previous operation has returned (after an
            // unknown outcome a client never returns, as a real one would carry on under a new identity).
            var point = i * 10L;
            var call = point - random.Next(36);
            var ret = point + random.Next(36);
            var client = Enumerable.Range(0, int.MaxValue).First(c => lastReturnOf.GetValueOrDefault(c, long.MinValue) < call);
            var unknown = input.Kind != RegisterOperationKind.Get && random.Next(10) == 0;
            lastReturnOf[client] = unknown ? long.MaxValue : ret;
            history.Add(unknown
                ? Operation.Indeterminate(i, client, key, input, call)
                : Operation.Ok(i, client, key, input, output, call, ret));
        }

        return history;
    }

    /// <summary>
    /// Reads that can be made certainly stale: a completed put of a unique value, then (strictly after it returned) a
    /// completed write of the same key, both returned before the read was called. The read cannot see the old value.
    /// </summary>
    private static IEnumerable<(Operation Read, string OldValue)> StaleReadCandidates(List<Operation> history)
    {
        foreach (var read in history.Where(o => o.Input.Kind == RegisterOperationKind.Get && o.Outcome == OperationOutcome.Ok))
        {
            var writes = history.Where(o => o.Key == read.Key && o.Outcome == OperationOutcome.Ok && o.Return < read.Call && Writes(o)).ToList();
            foreach (var old in writes.Where(w => w.Input.Kind != RegisterOperationKind.Delete))
            {
                if (writes.Any(later => later.Call > old.Return) && old.Input.Value != read.Output?.Value)
                {
                    yield return (read, old.Input.Value!);
                    break;
                }
            }
        }
    }

    private static bool Writes(Operation o) => o.Input.Kind switch
    {
        RegisterOperationKind.Put or RegisterOperationKind.Delete => true,
        RegisterOperationKind.CompareAndSet => o.Output?.Succeeded == true,
        _ => false,
    };
}

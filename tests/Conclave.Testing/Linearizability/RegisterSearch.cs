using System.Diagnostics;

namespace Conclave.Testing.Linearizability;

/// <summary>
/// Wing and Gong's search with Lowe's memoization (as in Porcupine) over the operations of one key: walk the
/// history's call/return events in time order, linearize a pending operation whenever the register model allows it,
/// and backtrack when a return is reached whose operation could not be placed. (Linearized set, register state)
/// pairs already explored are cached, which keeps typical histories near linear time.
/// </summary>
internal static class RegisterSearch
{
    /// <summary>Decides one key's operations (already filtered: no failed operations, no unknown reads).</summary>
    public static LinearizabilityVerdict Check(IReadOnlyList<Operation> operations, long deadlineTimestamp)
    {
        var n = operations.Count;
        var required = operations.Count(static o => o.Return != Operation.Infinity);
        if (required == 0)
        {
            return LinearizabilityVerdict.Linearizable;
        }

        // Events 1..2n in time order; 0 is the list head. On equal times calls come first: touching intervals are
        // treated as overlapping, so clock granularity can never produce a false alarm.
        var events = new (long Time, bool IsReturn, int Op)[2 * n];
        for (var i = 0; i < n; i++)
        {
            events[2 * i] = (operations[i].Call, false, i);
            events[(2 * i) + 1] = (operations[i].Return, true, i);
        }

        Array.Sort(events, static (a, b) =>
        {
            if (a.Time != b.Time)
            {
                return a.Time.CompareTo(b.Time);
            }

            return a.IsReturn != b.IsReturn ? a.IsReturn.CompareTo(b.IsReturn) : a.Op.CompareTo(b.Op);
        });
        var size = events.Length + 1;
        var next = new int[size];
        var prev = new int[size];
        var match = new int[size];
        var returnOf = new int[n];
        for (var e = 1; e < size; e++)
        {
            prev[e] = e - 1;
            next[e - 1] = e;
            if (events[e - 1].IsReturn)
            {
                returnOf[events[e - 1].Op] = e;
            }
        }

        next[size - 1] = -1;
        for (var e = 1; e < size; e++)
        {
            if (!events[e - 1].IsReturn)
            {
                match[e] = returnOf[events[e - 1].Op];
            }
        }

        var cache = new HashSet<(BitSet, string?)>();
        var stack = new Stack<(int Event, string? State)>();
        var linearized = new BitSet(n);
        string? state = RegisterModel.Initial;
        var placed = 0;
        var steps = 0;
        var entry = next[0];
        while (entry != -1)
        {
            if ((++steps & 1023) == 0 && Stopwatch.GetTimestamp() > deadlineTimestamp)
            {
                return LinearizabilityVerdict.Inconclusive;
            }

            var (_, isReturn, op) = events[entry - 1];
            if (!isReturn)
            {
                var operation = operations[op];
                var output = operation.Outcome == OperationOutcome.Ok ? operation.Output : null;
                if (RegisterModel.Step(state, operation.Input, output, out var after))
                {
                    var candidate = linearized.Clone();
                    candidate.Set(op);
                    if (cache.Add((candidate, after)))
                    {
                        stack.Push((entry, state));
                        state = after;
                        linearized.Set(op);
                        if (operation.Return != Operation.Infinity && ++placed == required)
                        {
                            // Every completed operation is placed; the unknown ones left can take effect after all of them, or never.
                            return LinearizabilityVerdict.Linearizable;
                        }

                        Lift(entry, match[entry], next, prev);
                        entry = next[0];
                        continue;
                    }
                }

                entry = next[entry];
                continue;
            }

            // A return whose operation is not placed yet: nothing later can be placed before it. Backtrack.
            if (stack.Count == 0)
            {
                return LinearizabilityVerdict.NotLinearizable;
            }

            (entry, state) = stack.Pop();
            var undone = events[entry - 1].Op;
            linearized.Clear(undone);
            if (operations[undone].Return != Operation.Infinity)
            {
                placed--;
            }

            Unlift(entry, match[entry], next, prev);
            entry = next[entry];
        }

        return LinearizabilityVerdict.Linearizable;
    }

    private static void Lift(int call, int ret, int[] next, int[] prev)
    {
        next[prev[call]] = next[call];
        if (next[call] != -1)
        {
            prev[next[call]] = prev[call];
        }

        next[prev[ret]] = next[ret];
        if (next[ret] != -1)
        {
            prev[next[ret]] = prev[ret];
        }
    }

    private static void Unlift(int call, int ret, int[] next, int[] prev)
    {
        next[prev[ret]] = ret;
        if (next[ret] != -1)
        {
            prev[next[ret]] = ret;
        }

        next[prev[call]] = call;
        if (next[call] != -1)
        {
            prev[next[call]] = call;
        }
    }
}

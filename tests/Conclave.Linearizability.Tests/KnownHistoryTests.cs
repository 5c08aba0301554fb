using Conclave.Testing.Linearizability;
using static Conclave.Testing.Linearizability.RegisterInput;

namespace Conclave.Linearizability.Tests;

/// <summary>Hand-written histories whose verdict is known. Times are small integers: [call, return].</summary>
public sealed class KnownHistoryTests
{
    private readonly List<Operation> history = [];

    private void Ok(int client, RegisterInput input, RegisterOutput output, long call, long ret, string key = "k") =>
        history.Add(Operation.Ok(history.Count, client, key, input, output, call, ret));

    private void Read(int client, string? value, long call, long ret, string key = "k") => Ok(client, Get(), RegisterOutput.Read(value), call, ret, key);

    private void Write(int client, string value, long call, long ret, string key = "k") => Ok(client, Put(value), RegisterOutput.Done, call, ret, key);

    private void Unknown(int client, RegisterInput input, long call, string key = "k") => history.Add(Operation.Indeterminate(history.Count, client, key, input, call));

    [Fact]
    public void An_empty_history_is_linearizable() => Assert.True(LinearizabilityChecker.Check([]).IsLinearizable);

    [Fact]
    public void A_sequential_history_that_follows_the_register_is_linearizable()
    {
        Read(1, null, 0, 1);
        Write(1, "a", 2, 3);
        Read(2, "a", 4, 5);
        Ok(2, CompareAndSet("a", "b"), RegisterOutput.Swapped(true), 6, 7);
        Ok(1, CompareAndSet("a", "c"), RegisterOutput.Swapped(false), 8, 9);
        Read(1, "b", 10, 11);
        Ok(2, Delete(), RegisterOutput.Done, 12, 13);
        Read(1, null, 14, 15);

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Theory]
    [InlineData(null, "a")]
    [InlineData("a", "a")]
    [InlineData("a", null)]
    public void Reads_overlapping_a_write_may_see_either_value_but_not_go_back(string? first, string? second)
    {
        // put(a) spans both reads; the reads follow each other.
        Write(1, "a", 0, 100);
        Read(2, first, 10, 20);
        Read(2, second, 30, 40);

        var result = LinearizabilityChecker.Check(history);

        // Seeing "a" and then the older absent state is the only illegal combination.
        Assert.Equal(!(first == "a" && second is null), result.IsLinearizable);
    }

    [Fact]
    public void Concurrent_writes_may_take_effect_in_either_order()
    {
        Write(1, "a", 0, 10);
        Write(2, "b", 0, 10);
        Read(3, "a", 20, 30);

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Fact]
    public void A_stale_read_is_caught()
    {
        Write(1, "a", 0, 10);
        Write(1, "b", 20, 30);
        Read(2, "a", 40, 50);

        var result = LinearizabilityChecker.Check(history);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal("k", result.Key);
        Assert.Contains("get() -> \"a\"", result.Report, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lost_update_is_caught()
    {
        // Two increments from the same value: both compare-and-sets cannot succeed.
        Write(1, "0", 0, 1);
        Ok(1, CompareAndSet("0", "1"), RegisterOutput.Swapped(true), 10, 20);
        Ok(2, CompareAndSet("0", "1'"), RegisterOutput.Swapped(true), 12, 22);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, LinearizabilityChecker.Check(history).Verdict);
    }

    [Fact]
    public void A_read_of_a_value_never_written_is_caught()
    {
        Write(1, "a", 0, 10);
        Read(2, "z", 5, 15);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, LinearizabilityChecker.Check(history).Verdict);
    }

    [Fact]
    public void A_failed_compare_and_set_must_have_seen_a_different_value()
    {
        Write(1, "a", 0, 10);
        Ok(2, CompareAndSet("a", "b"), RegisterOutput.Swapped(false), 20, 30);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, LinearizabilityChecker.Check(history).Verdict);
    }

    [Fact]
    public void An_indeterminate_write_that_took_effect_is_fine()
    {
        Unknown(1, Put("a"), 0);
        Read(2, "a", 50, 60);
        Read(2, "a", 70, 80);

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Fact]
    public void An_indeterminate_write_that_never_took_effect_is_fine()
    {
        Write(1, "a", 0, 10);
        Unknown(1, Put("b"), 20);
        Read(2, "a", 50, 60);

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Fact]
    public void An_indeterminate_write_cannot_be_undone_once_seen()
    {
        Write(1, "a", 0, 10);
        Unknown(1, Put("b"), 20);
        Read(2, "b", 50, 60);
        Read(2, "a", 70, 80);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, LinearizabilityChecker.Check(history).Verdict);
    }

    [Fact]
    public void An_indeterminate_write_cannot_take_effect_before_its_call()
    {
        Read(2, "b", 0, 10);
        Unknown(1, Put("b"), 20);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, LinearizabilityChecker.Check(history).Verdict);
    }

    [Fact]
    public void Failed_operations_and_unknown_reads_are_ignored()
    {
        history.Add(new Operation(0, 1, "k", Put("x"), OperationOutcome.Failed, null, 0, 5));
        history.Add(new Operation(1, 2, "k", Get(), OperationOutcome.Unknown, null, 6, Operation.Infinity));
        Read(3, null, 10, 20);

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Fact]
    public void Keys_are_independent_registers()
    {
        Write(1, "a", 0, 10, key: "x");
        Read(2, null, 20, 30, key: "y");
        Read(2, "a", 40, 50, key: "x");

        Assert.True(LinearizabilityChecker.Check(history).IsLinearizable);
    }

    [Fact]
    public void The_report_shows_a_small_counterexample_not_the_whole_history()
    {
        // Lots of legal traffic on two keys, one stale read on "k" in the middle, then more traffic.
        for (var i = 0; i < 100; i++)
        {
            Write(i % 3, $"o{i}", i * 10, (i * 10) + 5, key: "other");
            Write(i % 3, $"v{i}", i * 10, (i * 10) + 5);
            Read((i + 1) % 3, $"v{i}", (i * 10) + 6, (i * 10) + 9);
            if (i == 50)
            {
                Read(7, "v10", (i * 10) + 6, (i * 10) + 9);
            }
        }

        var result = LinearizabilityChecker.Check(history);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal("k", result.Key);
        Assert.InRange(result.Counterexample.Count, 2, 4);
        Assert.Contains(result.Counterexample, o => o.ClientId == 7);
        Assert.Contains("Smallest sub-history", result.Report, StringComparison.Ordinal);
    }

    [Fact]
    public void The_recorder_timestamps_calls_and_returns_and_treats_unfinished_operations_as_unknown()
    {
        var recorder = new HistoryRecorder();
        var put = recorder.Begin(1, "k", Put("a"));
        put.Ok(RegisterOutput.Done);
        var get = recorder.Begin(2, "k", Get());
        get.Ok(RegisterOutput.Read("a"));
        var lost = recorder.Begin(3, "k", Put("b"));
        lost.Unknown();
        var failed = recorder.Begin(3, "k", Put("c"));
        failed.Fail();
        recorder.Begin(1, "k", Put("d"));

        var recorded = recorder.History();

        Assert.Equal(5, recorded.Count);
        Assert.True(recorded[0].Call <= recorded[0].Return && recorded[0].Return <= recorded[1].Call);
        Assert.Equal([OperationOutcome.Ok, OperationOutcome.Ok, OperationOutcome.Unknown, OperationOutcome.Failed, OperationOutcome.Unknown], recorded.Select(o => o.Outcome));
        Assert.Equal(Operation.Infinity, recorded[2].Return);
        Assert.Equal(Operation.Infinity, recorded[4].Return);
        Assert.Throws<InvalidOperationException>(() => put.Fail());
        Assert.True(LinearizabilityChecker.Check(recorded).IsLinearizable);
    }
}

using System.CommandLine;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>
/// <c>conclave lock NAME [--ttl N] [-- COMMAND ARGS...]</c>: etcdctl's lock. Without a command it prints the holder
/// key and holds the lock until Ctrl-C; with one, it runs the command while holding the lock (the fencing token in
/// <c>CONCLAVE_FENCING_TOKEN</c>, the key in <c>CONCLAVE_LOCK_KEY</c>), releases it and exits with its exit code.
/// </summary>
internal static class LockCommand
{
    public const string FencingTokenVariable = "CONCLAVE_FENCING_TOKEN";
    public const string LockKeyVariable = "CONCLAVE_LOCK_KEY";

    // How long a command may take to exit after Ctrl-C (the terminal signals it too) before it is killed.
    private static readonly TimeSpan CommandExitGrace = TimeSpan.FromSeconds(1.5);

    public static Command Create()
    {
        var connection = new ConnectionOptions();
        var name = new Argument<string>("NAME") { Description = "The lock's name (a key prefix)." };
        var commandLine = new Argument<string[]>("COMMAND") { Description = "Command (and arguments) to run while holding the lock; put '--' before it.", Arity = ArgumentArity.ZeroOrMore };
        var ttl = new Option<long>("--ttl") { Description = "TTL in seconds of the session lease: how soon the lock is freed if this process dies.", DefaultValueFactory = _ => 10 };
        var command = new Command(
            "lock",
            $"Acquire a lock. Without a command: print the holder key and hold it until Ctrl-C. With '-- COMMAND ARGS...': run it while holding the lock, with the fencing token in {FencingTokenVariable} and the key in {LockKeyVariable}, then release and exit with its exit code.")
        {
            name, commandLine, ttl,
        };
        connection.AddTo(command);
        command.SetClientAction(connection, async context =>
        {
            var parse = context.Parse;
            var seconds = parse.GetValue(ttl);
            if (seconds <= 0)
            {
                throw new ArgumentException($"--ttl must be a positive number of seconds, got {seconds}.");
            }

            var lockName = parse.GetRequiredValue(name);
            var run = parse.GetValue(commandLine) ?? [];
            using var signals = TerminationSignals.Listen(context.CancellationToken);
            var interruptible = context with { CancellationToken = signals.Token };
            await using var session = await context.Client.CreateSessionAsync(seconds, interruptible.CancellationToken);
            await using var held = await session.LockAsync(lockName, interruptible.CancellationToken);
            return run.Length == 0 ? await HoldAsync(interruptible, held) : await RunAsync(interruptible, held, run);
        });
        return command;
    }

    private static async Task<int> HoldAsync(CommandContext context, LockHandle held)
    {
        await context.Out.WriteAsync(context.Format switch
        {
            OutputFormat.Json => JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("key", held.KeyString);
                json.WriteNumber("fencing_token", held.FencingToken);
                json.WriteString("lease", LeaseOutput.Id(held.LeaseId));
                json.WriteEndObject();
            }) + "\n",
            _ => held.KeyString + "\n",
        });
        await context.Out.FlushAsync(CancellationToken.None);

        using var either = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, held.LostToken);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, context.Client.Options.TimeProvider, either.Token);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // Ctrl-C: release (on the way out) and succeed.
            return 0;
        }
        catch (OperationCanceledException)
        {
            await context.Error.WriteLineAsync($"Error: lost the lock {held.Name}: its key {held.KeyString} is gone (the session's lease expired or was revoked, or someone unlocked it).");
            return CommandRunner.Failure;
        }

        return 0;
    }

    private static async Task<int> RunAsync(CommandContext context, LockHandle held, string[] run)
    {
        var info = new ProcessStartInfo(run[0]) { UseShellExecute = false };
        foreach (var arg in run.AsSpan(1))
        {
            info.ArgumentList.Add(arg);
        }

        var token = held.FencingToken.ToString(CultureInfo.InvariantCulture);
        info.Environment[FencingTokenVariable] = token;
        info.Environment[LockKeyVariable] = held.KeyString;

        // etcdctl's names, so scripts written for 'etcdctl lock' keep working (ETCD_LOCK_REV is the fencing token here).
        info.Environment["ETCD_LOCK_KEY"] = held.KeyString;
        info.Environment["ETCD_LOCK_REV"] = token;

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            await context.Error.WriteLineAsync($"Error: cannot run '{run[0]}': {e.Message}");
            return CommandRunner.Failure;
        }

        using var warnOnLoss = held.LostToken.Register(() => context.Error.WriteLine(
            $"Warning: lost the lock {held.Name} while '{run[0]}' (pid {process.Id}) is running; writes it guards with fencing token {token} are now rejected."));
        try
        {
            await process.WaitForExitAsync(context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // Ctrl-C reached the command too (same process group); give it a moment, then make sure it is gone
            // before the lock is released.
            using var grace = new CancellationTokenSource(CommandExitGrace, context.Client.Options.TimeProvider);
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }

        return process.ExitCode;
    }
}

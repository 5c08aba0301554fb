using System.CommandLine;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary><c>conclave kv put|get|del|watch|txn</c>: etcdctl's key-value commands.</summary>
internal static class KvCommands
{
    public static Command Create()
    {
        var connection = new ConnectionOptions();
        var kv = new Command("kv", "Read, write, delete and watch keys; run transactions.");
        connection.AddTo(kv);
        kv.Subcommands.Add(Put(connection));
        kv.Subcommands.Add(Get(connection));
        kv.Subcommands.Add(Delete(connection));
        kv.Subcommands.Add(Watch(connection));
        kv.Subcommands.Add(Txn(connection));
        return kv;
    }

    private static Command Put(ConnectionOptions connection)
    {
        var key = new Argument<string>("KEY") { Description = "Key to write." };
        var value = new Argument<string>("VALUE") { Description = "Value to write (UTF-8)." };
        var lease = new Option<string?>("--lease") { Description = "Attach the key to this lease (hexadecimal ID, as etcdctl prints it)." };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print the previous key-value pair." };
        var command = new Command("put", "Write a key.") { key, value, lease, prevKv };
        command.SetClientAction(connection, async context =>
        {
            var parse = context.Parse;
            var leaseText = parse.GetValue(lease);
            long leaseId = 0;
            if (leaseText is not null && !LeaseId.TryParse(leaseText, out leaseId))
            {
                throw new ArgumentException($"--lease must be a hexadecimal lease ID, got '{leaseText}'.");
            }

            var result = await context.Client.PutAsync(
                parse.GetRequiredValue(key),
                parse.GetRequiredValue(value),
                new PutOptions { Lease = leaseId, PrevKv = parse.GetValue(prevKv) },
                context.CancellationToken);
            await context.Out.WriteAsync(KvOutput.Put(result, context.Format));
            return 0;
        });
        return command;
    }

    private static Command Get(ConnectionOptions connection)
    {
        var key = new Argument<string>("KEY") { Description = "Key to read (or range start)." };
        var prefix = new Option<bool>("--prefix") { Description = "Read every key with this prefix." };
        var fromKey = new Option<bool>("--from-key") { Description = "Read every key greater than or equal to KEY." };
        var rev = new Option<long>("--rev") { Description = "Read at this revision (0: newest)." };
        var limit = new Option<long>("--limit") { Description = "Return at most this many keys (0: no limit)." };
        var keysOnly = new Option<bool>("--keys-only") { Description = "Print keys without values." };
        var countOnly = new Option<bool>("--count-only") { Description = "Print only the number of keys." };
        var sortBy = new Option<string?>("--sort-by") { Description = "Sort by KEY, CREATE, MODIFY, VALUE or VERSION." };
        var order = new Option<string?>("--order") { Description = "Sort order: ASCEND or DESCEND." };
        var consistency = new Option<string>("--consistency")
        {
            Description = "l: linearizable (default), s: serializable (served locally, may be stale).",
            DefaultValueFactory = _ => "l",
        };
        consistency.AcceptOnlyFromAmong("l", "s");
        var command = new Command("get", "Read a key or a range of keys.") { key, prefix, fromKey, rev, limit, keysOnly, countOnly, sortBy, order, consistency };
        command.SetClientAction(connection, async context =>
        {
            var parse = context.Parse;
            var (target, sortOrder) = ParseSort(parse.GetValue(sortBy), parse.GetValue(order));
            var options = new GetOptions
            {
                Prefix = parse.GetValue(prefix),
                FromKey = parse.GetValue(fromKey),
                Revision = NotNegative(parse.GetValue(rev), "--rev"),
                Limit = NotNegative(parse.GetValue(limit), "--limit"),
                KeysOnly = parse.GetValue(keysOnly),
                CountOnly = parse.GetValue(countOnly),
                SortTarget = target,
                SortOrder = sortOrder,
                Serializable = parse.GetValue(consistency) == "s",
            };
            var result = await context.Client.GetAsync(parse.GetRequiredValue(key), options, context.CancellationToken);
            await context.Out.WriteAsync(KvOutput.Get(result, context.Format, options.CountOnly, options.KeysOnly));
            return 0;
        });
        return command;
    }

    private static Command Delete(ConnectionOptions connection)
    {
        var key = new Argument<string>("KEY") { Description = "Key to delete (or range start)." };
        var prefix = new Option<bool>("--prefix") { Description = "Delete every key with this prefix." };
        var fromKey = new Option<bool>("--from-key") { Description = "Delete every key greater than or equal to KEY." };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print the deleted key-value pairs." };
        var command = new Command("del", "Delete a key or a range of keys; prints how many were deleted.") { key, prefix, fromKey, prevKv };
        command.Aliases.Add("delete");
        command.SetClientAction(connection, async context =>
        {
            var parse = context.Parse;
            var result = await context.Client.DeleteAsync(
                parse.GetRequiredValue(key),
                new DeleteOptions { Prefix = parse.GetValue(prefix), FromKey = parse.GetValue(fromKey), PrevKv = parse.GetValue(prevKv) },
                context.CancellationToken);
            await context.Out.WriteAsync(KvOutput.Delete(result, context.Format));
            return 0;
        });
        return command;
    }

    private static Command Watch(ConnectionOptions connection)
    {
        var key = new Argument<string>("KEY") { Description = "Key to watch (or range start)." };
        var prefix = new Option<bool>("--prefix") { Description = "Watch every key with this prefix." };
        var rev = new Option<long>("--rev") { Description = "Start at this revision, replaying history (0: from now)." };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print the previous key-value pair of every event." };
        var command = new Command("watch", "Print changes to a key or prefix as they happen, until Ctrl-C.") { key, prefix, rev, prevKv };
        command.SetClientAction(connection, async context =>
        {
            var parse = context.Parse;
            var options = new WatchOptions
            {
                Prefix = parse.GetValue(prefix),
                StartRevision = NotNegative(parse.GetValue(rev), "--rev"),
                PrevKv = parse.GetValue(prevKv),
            };
            try
            {
                await foreach (var e in context.Client.WatchAsync(parse.GetRequiredValue(key), options, context.CancellationToken))
                {
                    await context.Out.WriteAsync(KvOutput.WatchEvent(e, context.Format));
                    await context.Out.FlushAsync(context.CancellationToken);
                }
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
            {
                // Ctrl-C is how a watch ends.
            }

            return 0;
        });
        return command;
    }

    private static Command Txn(ConnectionOptions connection)
    {
        var command = new Command(
            "txn",
            """
            Run a transaction read from standard input in etcdctl's syntax: comparisons, a blank line, success
            operations, a blank line, failure operations. Example:
              value("k") = "v"
              mod("k") > "3"

              put k v2
              get k

              get k
            """);
        command.SetClientAction(connection, async context =>
        {
            // Prompts only for a person typing; piped input stays quiet.
            var prompt = Console.IsInputRedirected ? null : context.Error;
            var script = await TxnScriptParser.ParseAsync(Console.In, prompt, context.CancellationToken);
            var result = await context.Client.TxnAsync(script.Compares, script.Success, script.Failure, context.CancellationToken);
            await context.Out.WriteAsync(KvOutput.Txn(result, context.Format));
            return 0;
        });
        return command;
    }

    private static (SortTarget Target, SortOrder Order) ParseSort(string? sortBy, string? order)
    {
        var target = sortBy?.ToUpperInvariant() switch
        {
            null or "KEY" => SortTarget.Key,
            "CREATE" => SortTarget.CreateRevision,
            "MODIFY" or "MOD" => SortTarget.ModRevision,
            "VALUE" => SortTarget.Value,
            "VERSION" => SortTarget.Version,
            _ => throw new ArgumentException($"--sort-by must be KEY, CREATE, MODIFY, VALUE or VERSION, got '{sortBy}'."),
        };
        var direction = order?.ToUpperInvariant() switch
        {
            // Like etcdctl: naming a sort field without an order sorts ascending.
            null => sortBy is null ? SortOrder.None : SortOrder.Ascend,
            "ASCEND" => SortOrder.Ascend,
            "DESCEND" => SortOrder.Descend,
            _ => throw new ArgumentException($"--order must be ASCEND or DESCEND, got '{order}'."),
        };
        return (target, direction);
    }

    private static long NotNegative(long value, string option) =>
        value >= 0 ? value : throw new ArgumentException($"{option} must not be negative, got {value}.");
}

using System.CommandLine;
using System.Globalization;
using Conclave.Cli.Commands.Client;
using Conclave.Server.Backup;

namespace Conclave.Cli.Commands.Snapshot;

/// <summary>
/// <c>conclave snapshot save|status|restore</c>: backups as files, as etcd's <c>etcdctl snapshot save</c> and
/// <c>etcdutl snapshot status|restore</c>. The work is <see cref="SnapshotBackup"/>'s; this is flags and printing.
/// </summary>
internal static class SnapshotCommands
{
    public static Command Create()
    {
        var snapshot = new Command("snapshot", "Save a member's state to a file, check a saved file, or seed a new cluster from one.");
        snapshot.Subcommands.Add(Save());
        snapshot.Subcommands.Add(Status());
        snapshot.Subcommands.Add(Restore());
        return snapshot;
    }

    private static Command Save()
    {
        var connection = new ConnectionOptions();
        var save = new Command("save", "Stream a snapshot from a member into <file> (written to <file>.part, checked, flushed, renamed).");
        connection.AddTo(save);
        var file = new Argument<string>("file") { Description = "Where to save the snapshot." };
        save.Arguments.Add(file);
        save.SetClientAction(connection, async context =>
        {
            var path = context.Parse.GetValue(file)!;
            try
            {
                var status = await SnapshotBackup.SaveAsync(path, (stream, token) => context.Client.SnapshotAsync(stream, token), context.CancellationToken);
                await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"Snapshot saved at {path} (revision {status.Revision}, {status.Keys} keys, {status.FileSize} bytes, sha256 {status.Sha256})"));
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                await context.Error.WriteLineAsync($"Error: snapshot not saved: {e.Message}");
                return CommandRunner.Failure;
            }
        });
        return save;
    }

    private static Command Status()
    {
        var status = new Command("status", "Check a saved snapshot's hash and image, and print its hash, revision, keys and size.");
        var file = new Argument<string>("file") { Description = "The snapshot file." };
        var output = Output();
        var skip = new Option<bool>("--skip-hash-check") { Description = "Do not check the SHA-256 the file ends with (the image is still checked)." };
        status.Arguments.Add(file);
        status.Options.Add(output);
        status.Options.Add(skip);
        status.SetAction(async (ParseResult parse, CancellationToken _) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var s = SnapshotBackup.Inspect(parse.GetValue(file)!, parse.GetValue(skip));
                await stdout.WriteAsync(SnapshotOutput.Status(s, ConnectionOptions.ParseOutput(parse.GetValue(output))));
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                await stderr.WriteLineAsync($"Error: {parse.GetValue(file)}: {e.Message}");
                return CommandRunner.Failure;
            }
        });
        return status;
    }

    private static Command Restore()
    {
        var restore = new Command(
            "restore",
            "Write a new member's data directory from a saved snapshot: the snapshot's keys, revisions, leases, users and configuration center, " +
            "in a new cluster made of --initial-cluster. Restore every member from the same file, then start each with 'conclave serve' and the same --name and --initial-cluster.");
        var file = new Argument<string>("file") { Description = "The snapshot file." };
        var dataDir = new Option<string?>("--data-dir") { Description = "The new member's data directory (must not exist or be empty; default <name>.conclave)." };
        var name = new Option<string>("--name") { Description = "The new member's name.", DefaultValueFactory = _ => "default" };
        var initialCluster = new Option<string?>("--initial-cluster") { Description = "The new cluster: name=peerURL,... (default: this member alone at --initial-advertise-peer-urls)." };
        var peerUrl = new Option<string?>("--initial-advertise-peer-urls") { Description = "This member's peer URL (must match its --initial-cluster entry)." };
        var token = new Option<string>("--initial-cluster-token") { Description = "Mixed into the new cluster's id; give every member the same.", DefaultValueFactory = _ => "conclave-cluster" };
        var skip = new Option<bool>("--skip-hash-check") { Description = "Restore a file whose SHA-256 is missing or damaged (the image is still checked)." };
        restore.Arguments.Add(file);
        restore.Options.Add(dataDir);
        restore.Options.Add(name);
        restore.Options.Add(initialCluster);
        restore.Options.Add(peerUrl);
        restore.Options.Add(token);
        restore.Options.Add(skip);
        restore.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            var memberName = parse.GetValue(name)!;
            var options = new SnapshotRestoreOptions
            {
                SnapshotPath = parse.GetValue(file)!,
                DataDirectory = parse.GetValue(dataDir) ?? $"{memberName}.conclave",
                Name = memberName,
                InitialCluster = parse.GetValue(initialCluster),
                InitialAdvertisePeerUrl = parse.GetValue(peerUrl),
                InitialClusterToken = parse.GetValue(token)!,
                SkipHashCheck = parse.GetValue(skip),
            };
            try
            {
                var result = await SnapshotBackup.RestoreAsync(options, cancellationToken);
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"Restored member '{memberName}' of cluster {result.ClusterId:x16} into {Path.GetFullPath(options.DataDirectory)}: revision {result.Restored.Revision}, " +
                    $"{result.Restored.Keys} keys, {result.Restored.Leases} leases, {result.Restored.SystemKeys} configuration records " +
                    $"({result.MembershipRecordsDropped} records of the old cluster's membership left out)"));
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                await stderr.WriteLineAsync($"Error: {e.Message}");
                return CommandRunner.Failure;
            }
        });
        return restore;
    }

    private static Option<string> Output()
    {
        var output = new Option<string>("--write-out", "-w", "-o", "--output")
        {
            Description = "Output format: simple, table or json.",
            DefaultValueFactory = _ => "simple",
        };
        output.AcceptOnlyFromAmong("simple", "json", "table");
        return output;
    }
}

using System.CommandLine;
using System.Text.Json;
using Conclave.Cli.Commands.Snapshot;
using Conclave.Client;

namespace Conclave.Cli.Tests.Snapshot;

/// <summary>
/// <c>conclave snapshot save|status|restore</c> in-process against a real in-process member: a saved file is checked
/// whole, a damaged one is refused naming what is wrong, and a restore never touches a data directory that holds
/// anything.
/// </summary>
public sealed class SnapshotCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory files = TempDirectory.Create("conclave-snapcli-");
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync()
    {
        await node.DisposeAsync();
        files.Dispose();
    }

    [Fact]
    public async Task Save_writes_a_file_status_checks_and_describes()
    {
        var path = await SavedAsync();

        var (code, text, error) = await RunAsync("snapshot", "status", path, "-w", "json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal(12, json.GetProperty("revision").GetInt64()); // 1 + 10 puts + 1 delete
        Assert.Equal(9, json.GetProperty("totalKey").GetInt64());
        Assert.Equal(4, json.GetProperty("version").GetInt32());
        Assert.Equal(new FileInfo(path).Length, json.GetProperty("totalSize").GetInt64());
        Assert.Matches("^[0-9a-f]{64}$", json.GetProperty("hash").GetString());
        Assert.Equal(0, (new FileInfo(path).Length - 32) % 512);
        Assert.False(File.Exists(path + ".part"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        (code, text, _) = await RunAsync("snapshot", "status", path, "-w", "table");
        Assert.Equal(0, code);
        Assert.Contains("| HASH", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flipped_byte_anywhere_is_a_hash_mismatch_and_a_truncated_file_is_named_so()
    {
        var path = await SavedAsync();
        var bytes = await File.ReadAllBytesAsync(path);
        var random = new Random(24);
        foreach (var at in new[] { 0, 20, bytes.Length / 2, bytes.Length - 33, bytes.Length - 1, random.Next(bytes.Length) })
        {
            var damaged = bytes.ToArray();
            damaged[at] ^= 0x40;
            var copy = files.Combine($"flipped-{at}.db");
            await File.WriteAllBytesAsync(copy, damaged);
            var (code, _, error) = await RunAsync("snapshot", "status", copy);
            Assert.Equal(1, code);
            Assert.Contains("SHA-256", error, StringComparison.Ordinal);
        }

        foreach (var cut in new[] { 0, 31, bytes.Length - 1, bytes.Length - 32, bytes.Length - 512 })
        {
            var copy = files.Combine($"cut-{cut}.db");
            await File.WriteAllBytesAsync(copy, bytes[..cut]);
            var (code, _, error) = await RunAsync("snapshot", "status", copy);
            Assert.Equal(1, code);
            Assert.True(error.Contains("truncated", StringComparison.Ordinal) || error.Contains("SHA-256", StringComparison.Ordinal), error);
        }

        // Without the hash check, the image is still checked field by field: a cut inside it is named with its offset
        // (here: "snapshot key length at offset 96 is 5 bytes; 3 remain").
        var inside = files.Combine("cut-inside.db");
        await File.WriteAllBytesAsync(inside, bytes[..100]);
        var (skipCode, _, skipError) = await RunAsync("snapshot", "status", inside, "--skip-hash-check");
        Assert.Equal(1, skipCode);
        Assert.Contains("at offset", skipError, StringComparison.Ordinal);

        var (missing, _, missingError) = await RunAsync("snapshot", "status", files.Combine("nothing.db"));
        Assert.Equal(1, missing);
        Assert.Contains("nothing.db", missingError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_refuses_a_data_directory_that_holds_anything_and_a_peer_url_that_disagrees()
    {
        var path = await SavedAsync();
        var dir = files.Combine("occupied");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "precious"), "keep me");

        var (code, _, error) = await RunAsync("snapshot", "restore", path, "--data-dir", dir, "--name", "n1", "--initial-cluster", "n1=http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("not empty", error, StringComparison.Ordinal);
        Assert.Equal(["precious"], Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName));

        var fresh = files.Combine("fresh");
        (code, _, error) = await RunAsync("snapshot", "restore", path, "--data-dir", fresh, "--name", "n1",
            "--initial-cluster", "n1=http://127.0.0.1:1", "--initial-advertise-peer-urls", "http://127.0.0.1:2");
        Assert.Equal(1, code);
        Assert.Contains("--initial-advertise-peer-urls", error, StringComparison.Ordinal);
        (code, _, error) = await RunAsync("snapshot", "restore", path, "--data-dir", fresh, "--name", "n9", "--initial-cluster", "n1=http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("n9", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fresh));

        // A damaged file leaves no directory behind.
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[60] ^= 1;
        var damaged = files.Combine("damaged.db");
        await File.WriteAllBytesAsync(damaged, bytes);
        (code, _, error) = await RunAsync("snapshot", "restore", damaged, "--data-dir", fresh, "--name", "n1", "--initial-cluster", "n1=http://127.0.0.1:1");
        Assert.Equal(1, code);
        Assert.Contains("SHA-256", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fresh));

        (code, var text, error) = await RunAsync("snapshot", "restore", path, "--data-dir", fresh, "--name", "n1", "--initial-cluster", "n1=http://127.0.0.1:1");
        Assert.True(code == 0, error);
        Assert.Contains("revision 12", text, StringComparison.Ordinal);
        Assert.Equal(["cluster-id", "format", "members", "snap"], Directory.EnumerateFileSystemEntries(fresh).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Save_from_a_dead_endpoint_leaves_no_file()
    {
        var path = files.Combine("never.db");
        var (code, _, error) = await RunAsync("snapshot", "save", path, "--endpoints", $"127.0.0.1:{FreePorts.Take(1)[0]}", "--dial-timeout", "1");
        Assert.Equal(1, code);
        Assert.NotEmpty(error);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(path + ".part"));
    }

    private async Task<string> SavedAsync()
    {
        await using (var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [node.Endpoint] }))
        {
            for (var i = 0; i < 10; i++)
            {
                await client.PutAsync($"key-{i}", new string('v', i * 100));
            }

            await client.DeleteAsync("key-3");
        }

        var path = files.Combine($"backup-{Guid.NewGuid():N}.db");
        var (code, text, error) = await RunAsync("snapshot", "save", path, "--endpoints", node.Endpoint);
        Assert.True(code == 0, error);
        Assert.Contains("Snapshot saved", text, StringComparison.Ordinal);
        return path;
    }

    private async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("conclave (test)") { SnapshotCommands.Create() };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
        output.WriteLine($"$ conclave {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }
}

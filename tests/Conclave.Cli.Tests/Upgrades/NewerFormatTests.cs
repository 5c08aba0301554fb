using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using Conclave.Client;

namespace Conclave.Cli.Tests.Upgrades;

/// <summary>
/// A member of this build started on data a newer build wrote (the data directory's <c>format</c> file, a log segment's
/// or a snapshot file's header says a newer version) refuses to start: it exits non-zero with a message naming both
/// versions and what to do, and changes nothing in the directory. Put back as it was, the same directory opens.
/// </summary>
public sealed class NewerFormatTests(ITestOutputHelper output)
{
    private const string Name = "upgrade-test";

    [Fact]
    public async Task A_data_directory_of_a_newer_format_is_refused_untouched()
    {
        await RefusedAndUntouchedAsync(
            snapshotCount: 10_000,
            makeNewer: data => File.WriteAllText(Path.Combine(data, Conclave.Cluster.DataDirectoryFormat.FileName), "3\n"),
            restore: data => File.WriteAllText(Path.Combine(data, Conclave.Cluster.DataDirectoryFormat.FileName), "1\n"),
            expected: "is format 3, newer than this build's 1",
            what: "data directory");
    }

    [Fact]
    public async Task A_log_segment_of_a_newer_format_is_refused_untouched()
    {
        await RefusedAndUntouchedAsync(
            snapshotCount: 10_000,
            makeNewer: data => SetSegmentVersion(FirstSegment(data), 2),
            restore: data => SetSegmentVersion(FirstSegment(data), 1),
            expected: "is format 2, newer than this build's 1",
            what: "log segment");
    }

    [Fact]
    public async Task A_snapshot_file_of_a_newer_format_is_refused_untouched()
    {
        await RefusedAndUntouchedAsync(
            snapshotCount: 5,
            makeNewer: data => SetSnapshotVersion(NewestSnapshot(data), 2),
            restore: data => SetSnapshotVersion(NewestSnapshot(data), 1),
            expected: "is format 2, newer than this build's 1",
            what: "snapshot file");
    }

    private async Task RefusedAndUntouchedAsync(int snapshotCount, Action<string> makeNewer, Action<string> restore, string expected, string what)
    {
        using var temp = TempDirectory.Create("conclave-newer-");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        var data = temp.Combine("data");
        var options = new NodeProcessOptions { Name = Name, Output = output, ExtraArguments = ["--snapshot-count", $"{snapshotCount}"] };
        await using (var node = await NodeProcess.StartAsync(data, options, ct))
        {
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [node.Endpoint] });
            for (var i = 0; i < 12; i++)
            {
                await client.PutAsync("key", $"v{i}", cancellationToken: ct);
            }

            await node.StopAsync(TimeSpan.FromSeconds(30), ct);
        }

        Assert.Equal("1", (await File.ReadAllTextAsync(Path.Combine(data, Conclave.Cluster.DataDirectoryFormat.FileName), ct)).Trim());
        makeNewer(data);
        var before = Describe(data);

        var refused = await Assert.ThrowsAsync<NodeStartException>(() => NodeProcess.StartAsync(data, options, ct));
        output.WriteLine(refused.Message);
        Assert.Contains("exited with code 1", refused.Message, StringComparison.Ordinal);
        Assert.Contains(what, refused.Message, StringComparison.Ordinal);
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.Contains("Upgrade the binary", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Describe(data));

        // As it was, the directory opens with its data.
        restore(data);
        await using (var node = await NodeProcess.StartAsync(data, options, ct))
        {
            await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [node.Endpoint] });
            var got = await client.GetAsync("key", cancellationToken: ct);
            Assert.Equal("v11", Assert.Single(got.Kvs).ValueString);
        }
    }

    /// <summary>Every entry of the directory but the harness's process log: path, mode, length, modification time, content hash.</summary>
    private static List<string> Describe(string data) =>
    [
        .. Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories)
            .Where(static p => Path.GetFileName(p) != NodeProcess.LogFileName)
            .Order(StringComparer.Ordinal)
            .Select(p => Directory.Exists(p)
                ? $"{Path.GetRelativePath(data, p)}/ {Mode(p)}"
                : $"{Path.GetRelativePath(data, p)} {Mode(p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p):O} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p)))}"),
    ];

    private static string Mode(string path) => OperatingSystem.IsWindows() ? "" : File.GetUnixFileMode(path).ToString();

    private static string FirstSegment(string data) =>
        Directory.EnumerateFiles(Path.Combine(data, "log"), "*.wal").Order(StringComparer.Ordinal).First();

    private static string NewestSnapshot(string data) =>
        Directory.EnumerateFiles(Path.Combine(data, "snap"), "*.snap").Order(StringComparer.Ordinal).Last();

    /// <summary>A segment header: <c>magic (8) | version u32 | reserved u32 | seq u64 | crc32 of the first 24 bytes u32 | reserved u32</c>.</summary>
    private static void SetSegmentVersion(string path, uint version)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var header = new byte[32];
        file.ReadExactly(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), Crc32.HashToUInt32(header.AsSpan(0, 24)));
        file.Position = 0;
        file.Write(header);
    }

    /// <summary>A snapshot file's header: <c>magic "CNCLSNAP" (8) | version u32 | ...</c>.</summary>
    private static void SetSnapshotVersion(string path, uint version)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, version);
        file.Position = 8;
        file.Write(bytes);
    }
}

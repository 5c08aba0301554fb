using System.Diagnostics;
using Conclave.Api.Etcd;
using Conclave.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace Conclave.Server.Tests.Durability;

/// <summary>
/// A member whose disk fills up answers writes with a clear "no space left on device" error (not a misleading
/// "no leader"), and once space is back and it restarts, every write it acknowledged is there.
/// Needs root (a small tmpfs is mounted for the data directory), as CI and test.sh run.
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Full_disk_fails_writes_clearly_and_loses_no_acknowledged_write()
    {
        Assert.True(Environment.UserName == "root", "this test mounts a tmpfs and must run as root (as ./test.sh and CI do)");
        using var directory = TempDirectory.Create("conclave-fulldisk-");
        var mountPoint = directory.Combine("disk");
        Directory.CreateDirectory(mountPoint);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mountPoint);
        try
        {
            var dataDirectory = Path.Combine(mountPoint, "data");
            await using var node = await NodeProcess.StartAsync(dataDirectory, new NodeProcessOptions { Name = "fulldisk", Output = output });
            using var channel = GrpcChannel.ForAddress(node.Endpoint);
            var kv = new KV.KVClient(channel);
            var value = ByteString.CopyFrom(new byte[100_000]);
            var acked = new Dictionary<string, long>();
            RpcException? failure = null;
            for (var i = 0; i < 400 && failure is null; i++)
            {
                try
                {
                    var key = $"k{i:D4}";
                    var response = await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = value }, deadline: DateTime.UtcNow.AddSeconds(20));
                    acked[key] = response.Header.Revision;
                }
                catch (RpcException e)
                {
                    failure = e;
                }
            }

            Assert.NotNull(failure);
            output.WriteLine($"after {acked.Count} acknowledged writes: {failure.StatusCode} {failure.Status.Detail}");
            Assert.Equal(StatusCode.ResourceExhausted, failure.StatusCode);
            Assert.Contains("no space left on device", failure.Status.Detail, StringComparison.Ordinal);
            Assert.True(acked.Count > 10, "the disk should hold some writes before it fills");

            node.Kill();
            await RunAsync("mount", "-o", "remount,size=64m", mountPoint);
            await node.RestartAsync();
            using var after = GrpcChannel.ForAddress(node.Endpoint);
            var reader = new KV.KVClient(after);
            foreach (var (key, revision) in acked)
            {
                var got = await reader.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key) });
                Assert.True(got.Kvs.Count == 1, $"acknowledged key {key} (revision {revision}) is missing after restart");
                Assert.Equal(revision, got.Kvs[0].ModRevision);
            }

            var next = await reader.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("after"), Value = ByteString.CopyFromUtf8("v") });
            Assert.True(next.Header.Revision > acked.Values.Max());
        }
        finally
        {
            await RunAsync("umount", "-l", mountPoint);
        }
    }

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} failed: {stderr}");
    }
}

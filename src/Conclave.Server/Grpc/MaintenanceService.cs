using System.Security.Cryptography;
using Conclave.Api.Etcd;
using Conclave.Api.Errors;
using Conclave.Api.Raft;
using Conclave.Server.Node;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Maintenance service: status, alarms, snapshot download, hashes.</summary>
internal sealed class MaintenanceService(ConclaveNode node, Security.Auth.Authenticator auth, SnapshotSends snapshots) : Maintenance.MaintenanceBase
{
    /// <summary>The etcd API version Conclave speaks; clients feature-detect on it.</summary>
    public const string ApiVersion = "3.5.0";

    public override Task<StatusResponse> Status(StatusRequest request, ServerCallContext context)
    {
        var status = node.Consensus.Status;
        var size = node.Store.SizeBytes;
        var response = new StatusResponse
        {
            Header = node.Header(node.Store.Revision),
            Version = ApiVersion,
            DbSize = size,
            DbSizeInUse = size,
            Leader = status.LeaderId,
            RaftIndex = (ulong)status.CommitIndex,
            RaftTerm = status.Term,
            RaftAppliedIndex = (ulong)status.AppliedIndex,
            IsLearner = status.IsLearner,
        };
        foreach (var alarm in node.Store.Alarms)
        {
            response.Errors.Add($"memberID:{alarm.MemberID} alarm:{alarm.Alarm.ToString().ToUpperInvariant()} ");
        }

        return Task.FromResult(response);
    }

    public override async Task<AlarmResponse> Alarm(AlarmRequest request, ServerCallContext context)
    {
        if (request.Action == AlarmRequest.Types.AlarmAction.Get)
        {
            var response = new AlarmResponse { Header = node.Header(node.Store.Revision) };
            response.Alarms.AddRange(node.Store.Alarms.Where(a => request.MemberID == 0 || a.MemberID == request.MemberID)
                .Where(a => request.Alarm == AlarmType.None || a.Alarm == request.Alarm));
            return response;
        }

        // Raising or clearing an alarm is the root role's (checked again where it is applied); listing them is anyone's.
        var user = auth.Resolve(context);
        node.Store.Auth.CheckAdmin(user);
        var applied = await node.ProposeAsync<AlarmResponse>(new Command { Alarm = request, User = user }, context.CancellationToken);
        applied.Header = node.Fill(applied.Header);
        return applied;
    }

    public override Task<DefragmentResponse> Defragment(DefragmentRequest request, ServerCallContext context) =>
        // State lives in memory and compaction frees it at once: there is nothing to defragment.
        Task.FromResult(new DefragmentResponse { Header = node.Header(node.Store.Revision) });

    public override async Task<HashKVResponse> HashKV(HashKVRequest request, ServerCallContext context)
    {
        await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        var (hash, revision, compact) = node.Store.Read(k =>
        {
            var rev = k.ResolveReadRevision(request.Revision);
            var crc = new Crc32Accumulator();
            k.Scan(ByteString.CopyFrom(0), ByteString.CopyFrom(0), rev, kv =>
            {
                crc.Append(kv.Key.Span);
                crc.Append(kv.Value.Span);
                crc.Append(BitConverter.GetBytes(kv.ModRevision));
                return true;
            });
            return (crc.Value, k.Revision, k.CompactRevision);
        });
        return new HashKVResponse { Header = node.Header(revision), Hash = hash, CompactRevision = compact };
    }

    public override Task<HashResponse> Hash(HashRequest request, ServerCallContext context) =>
        throw ErrorMapping.Create(ErrorCode.Unimplemented, "Hash hashes etcd's bolt file, which Conclave does not have; use HashKV");

    public override Task<MoveLeaderResponse> MoveLeader(MoveLeaderRequest request, ServerCallContext context) =>
        throw ErrorMapping.Create(ErrorCode.NotCapable, "moving leadership is not supported yet");

    /// <summary>
    /// Streams a consistent image of the state, followed (as etcd does) by the SHA-256 of the image, so a saved file can
    /// be checked. The image is captured at once and written to a file in the data directory whose name is removed as
    /// soon as it is open (nothing is left behind, even by a crash), and the client reads it from there at its own pace:
    /// the member holds neither the image in memory (a 1 GB state is a 1 GB image; a memory stream also stops at 2 GB)
    /// nor the capture while a slow client reads (a capture being written holds compactions back, ADR 0017).
    /// </summary>
    public override async Task Snapshot(SnapshotRequest request, IServerStreamWriter<SnapshotResponse> responseStream, ServerCallContext context)
    {
        var max = node.Options.MaxConcurrentSnapshots;
        if (!snapshots.TryEnter(max))
        {
            throw ErrorMapping.Create(ErrorCode.TooManyRequests, $"{max} snapshots are being sent by this member; the limit is {max} at once");
        }

        try
        {
            await using var spool = OpenSpool();
            var header = node.Header(node.Store.Revision);
            var (length, sha) = await Task.Run(() => WriteImage(spool), context.CancellationToken);
            var total = (ulong)(length + sha.Length);
            spool.Position = 0;
            var buffer = new byte[64 * 1024];
            long sent = 0;
            while (sent < length)
            {
                var n = await spool.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)), context.CancellationToken);
                if (n == 0)
                {
                    throw ErrorMapping.Create(ErrorCode.Internal, $"the snapshot's spool file ended at {sent} of {length} bytes");
                }

                sent += n;
                await responseStream.WriteAsync(new SnapshotResponse { Header = header, RemainingBytes = total - (ulong)sent, Blob = ByteString.CopyFrom(buffer, 0, n) }, context.CancellationToken);
            }

            await responseStream.WriteAsync(new SnapshotResponse { Header = header, RemainingBytes = 0, Blob = ByteString.CopyFrom(sha) }, context.CancellationToken);
        }
        catch (IOException e)
        {
            // A full disk or a failing one while spooling: say so, in etcd's terms.
            throw ErrorMapping.Create(ErrorCode.Internal, $"the snapshot could not be written to this member's data directory ({e.Message})");
        }
        finally
        {
            snapshots.Exit();
        }
    }

    /// <summary>A new file in the data directory, opened and then unlinked: only this stream can reach it, and it goes when closed.</summary>
    private FileStream OpenSpool()
    {
        var path = Path.Combine(node.Options.DataDirectory, $"snapshot-send-{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Delete, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(path, options);
        try
        {
            File.Delete(path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

        return stream;
    }

    /// <summary>Captures the state and writes its image into <paramref name="spool"/>, padded as etcdctl expects; returns its length and SHA-256.</summary>
    private (long Length, byte[] Sha) WriteImage(FileStream spool)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var capture = node.Store.CaptureSnapshot())
        {
            using var buffered = new BufferedStream(new HashingStream(spool, hash), 256 * 1024);
            capture.WriteTo(buffered);

            // etcdctl finds the checksum by the image being a whole number of 512-byte pages (as bolt files are).
            var padding = (int)((512 - (capture.Length % 512)) % 512);
            buffered.Write(new byte[padding]);
            buffered.Flush();
        }

        return (spool.Length, hash.GetHashAndReset());
    }

    /// <summary>Writes through to a stream it does not own, hashing what passes.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed class Crc32Accumulator
    {
        private static readonly uint[] Table = BuildTable();
        private uint crc = 0xFFFFFFFF;

        public uint Value => ~crc;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0x82F63B78 ^ (c >> 1) : c >> 1; // Castagnoli, as etcd's hash
                }

                table[i] = c;
            }

            return table;
        }
    }
}

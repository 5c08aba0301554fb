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
    /// Streams a consistent image of the state, followed (as etcd does) by the SHA-256 of the image, so a
    /// saved file can be checked.
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
            using var image = new MemoryStream();
            node.Store.WriteSnapshot(image);
            // etcdctl finds the checksum by the image being a whole number of 512-byte pages (as bolt files are).
            image.SetLength((image.Length + 511) / 512 * 512);
            // The stream's own buffer, not a copy of it: one image per snapshot in memory, not two.
            var bytes = image.GetBuffer();
            var length = (int)image.Length;
            var sha = SHA256.HashData(bytes.AsSpan(0, length));
            var total = (ulong)(length + sha.Length);
            const int chunk = 32 * 1024;
            var header = node.Header(node.Store.Revision);
            ulong sent = 0;
            for (var offset = 0; offset < length; offset += chunk)
            {
                var n = Math.Min(chunk, length - offset);
                sent += (ulong)n;
                await responseStream.WriteAsync(new SnapshotResponse { Header = header, RemainingBytes = total - sent, Blob = ByteString.CopyFrom(bytes, offset, n) }, context.CancellationToken);
            }

            await responseStream.WriteAsync(new SnapshotResponse { Header = header, RemainingBytes = 0, Blob = ByteString.CopyFrom(sha) }, context.CancellationToken);
        }
        finally
        {
            snapshots.Exit();
        }
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

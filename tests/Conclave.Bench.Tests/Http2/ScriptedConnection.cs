using System.Buffers.Binary;
using System.Net.Sockets;
using Conclave.Bench.Http2;
using Google.Protobuf;

namespace Conclave.Bench.Tests.Http2;

/// <summary>The server side of one scripted connection; every frame it reads is kept in <see cref="Seen"/>.</summary>
internal sealed class ScriptedConnection(TcpClient client) : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);

    private readonly NetworkStream _stream = client.GetStream();

    /// <summary>Decodes the client's request header blocks.</summary>
    public HpackDecoder Decoder { get; } = new();

    public List<(FrameHeader Header, byte[] Payload)> Seen { get; } = [];

    public static byte[] Frame(FrameType type, byte flags, int streamId, params byte[] payload)
    {
        var frame = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, payload.Length, type, flags, streamId);
        payload.CopyTo(frame, FrameHeader.Size);
        return frame;
    }

    /// <summary>A length-prefixed gRPC message.</summary>
    public static byte[] GrpcMessage(IMessage message)
    {
        var body = message.ToByteArray();
        var framed = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        return framed;
    }

    public async Task ExpectPrefaceAsync()
    {
        var preface = new byte[FrameWriter.Preface.Length];
        await ReadExactlyAsync(preface);
        Assert.Equal(FrameWriter.Preface.ToArray(), preface);
    }

    public async Task SendAsync(params byte[][] frames)
    {
        foreach (var frame in frames)
        {
            await _stream.WriteAsync(frame);
        }

        await _stream.FlushAsync();
    }

    public async Task<(FrameHeader Header, byte[] Payload)> ReadFrameAsync()
    {
        var head = new byte[FrameHeader.Size];
        await ReadExactlyAsync(head);
        var header = FrameHeader.Read(head);
        var payload = new byte[header.Length];
        await ReadExactlyAsync(payload);
        Seen.Add((header, payload));
        return (header, payload);
    }

    /// <summary>Reads frames until one matches, skipping (but keeping in <see cref="Seen"/>) the rest.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)> ReadUntilAsync(Func<FrameHeader, bool> match)
    {
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (match(frame.Header))
            {
                return frame;
            }
        }
    }

    /// <summary>The next frame that is not connection housekeeping (SETTINGS, WINDOW_UPDATE, PING).</summary>
    public Task<(FrameHeader Header, byte[] Payload)> ReadStreamFrameAsync() =>
        ReadUntilAsync(static h => h.Type is not (FrameType.Settings or FrameType.WindowUpdate or FrameType.Ping));

    /// <summary>Reads one whole request: HEADERS (decoded) then DATA up to END_STREAM.</summary>
    public async Task<ScriptedRequest> ReadRequestAsync()
    {
        var (header, payload) = await ReadStreamFrameAsync();
        Assert.Equal(FrameType.Headers, header.Type);
        Assert.True(header.Has(FrameFlags.EndHeaders));
        var sink = new RecordingSink();
        Decoder.Decode(payload, sink);
        var body = new List<byte>();
        while (true)
        {
            var (data, bytes) = await ReadStreamFrameAsync();
            Assert.Equal(FrameType.Data, data.Type);
            Assert.Equal(header.StreamId, data.StreamId);
            body.AddRange(bytes);
            if (data.Has(FrameFlags.EndStream))
            {
                return new ScriptedRequest(header.StreamId, sink.Fields, [.. body]);
            }
        }
    }

    public void Dispose() => client.Dispose();

    private async Task ReadExactlyAsync(byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        await _stream.ReadExactlyAsync(buffer, timeout.Token);
    }
}

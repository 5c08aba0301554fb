using System.Buffers;
using System.Buffers.Binary;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// Serializes a request through its generated marshaller straight into a pooled buffer that starts with the
/// 5-byte gRPC message prefix. One reusable instance per thread: serialization never re-enters.
/// </summary>
internal sealed class RequestSerializer : SerializationContext, IBufferWriter<byte>
{
    public const int PrefixSize = 5;

    [ThreadStatic]
    private static RequestSerializer? t_instance;

    private byte[]? _buffer;
    private int _written;
    private bool _completed;

    /// <summary>Returns a pooled buffer holding prefix + message, and its length; the caller returns it to the pool.</summary>
    public static (byte[] Buffer, int Length) Serialize<T>(Action<T, SerializationContext> serializer, T message)
    {
        var context = t_instance ??= new RequestSerializer();
        context._buffer = null;
        context._written = PrefixSize;
        context._completed = false;
        try
        {
            serializer(message, context);
            if (!context._completed)
            {
                throw new InvalidOperationException("The request serializer did not complete.");
            }

            context.Ensure(PrefixSize);
            var buffer = context._buffer!;
            buffer[0] = 0; // not compressed
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(1), (uint)(context._written - PrefixSize));
            return (buffer, context._written);
        }
        catch
        {
            if (context._buffer is { } rented)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }

            throw;
        }
        finally
        {
            context._buffer = null;
        }
    }

    public override void SetPayloadLength(int payloadLength) => Ensure(PrefixSize + payloadLength);

    public override IBufferWriter<byte> GetBufferWriter() => this;

    public override void Complete() => _completed = true;

    public override void Complete(byte[] payload)
    {
        Ensure(PrefixSize + payload.Length);
        payload.CopyTo(_buffer!, PrefixSize);
        _written = PrefixSize + payload.Length;
        _completed = true;
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(_written + Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(_written + Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int size)
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 256));
        }
        else if (_buffer.Length < size)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(size, _buffer.Length * 2));
            _buffer.AsSpan(0, _written).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }
}

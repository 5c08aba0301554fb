using System.Buffers;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// Hands a received gRPC message to a generated deserializer without copying it. One instance per connection,
/// used only by its reader loop; the bytes are valid only during the deserializer call.
/// </summary>
internal sealed class ResponsePayload : DeserializationContext
{
    private ReadOnlyMemory<byte> _payload;

    public override int PayloadLength => _payload.Length;

    public void Set(ReadOnlyMemory<byte> payload) => _payload = payload;

    public override byte[] PayloadAsNewBuffer() => _payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(_payload);
}

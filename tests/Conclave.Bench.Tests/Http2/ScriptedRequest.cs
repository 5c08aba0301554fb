using System.Buffers.Binary;

namespace Conclave.Bench.Tests.Http2;

/// <summary>A request as the scripted server received it.</summary>
internal sealed record ScriptedRequest(int StreamId, List<(string Name, string Value)> Headers, byte[] Body)
{
    public string Header(string name) => Headers.Single(h => h.Name == name).Value;

    /// <summary>The protobuf message inside the gRPC length prefix.</summary>
    public byte[] Message()
    {
        Assert.Equal(0, Body[0]);
        Assert.Equal(Body.Length - 5, (int)BinaryPrimitives.ReadUInt32BigEndian(Body.AsSpan(1)));
        return Body[5..];
    }
}

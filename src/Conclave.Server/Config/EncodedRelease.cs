namespace Conclave.Server.Config;

/// <summary>
/// A <c>conclave.config.v1.Release</c> message already serialized: what Subscribe writes to every stream that gets the
/// same effective release, so one publish is encoded once per release and gray variant, not once per subscriber
/// (issue 23 item 4). <see cref="ConfigServiceMethods"/> gives it a marshaller that copies the bytes.
/// </summary>
internal sealed class EncodedRelease(byte[] bytes)
{
    /// <summary>The serialized message; never changed after construction.</summary>
    public byte[] Bytes { get; } = bytes;
}

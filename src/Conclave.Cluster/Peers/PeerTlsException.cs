namespace Conclave.Cluster.Peers;

/// <summary>
/// A TLS handshake between members failed: the message says why. An <see cref="IOException"/>, as every other way a
/// peer connection fails to open, so callers treat the member as unreachable.
/// </summary>
internal sealed class PeerTlsException(string message, bool certificateRefused, Exception? inner = null) : IOException(message, inner)
{
    /// <summary>The other side's certificate was refused (missing, untrusted, or not naming the host): worth an operator's attention.</summary>
    public bool CertificateRefused { get; } = certificateRefused;
}

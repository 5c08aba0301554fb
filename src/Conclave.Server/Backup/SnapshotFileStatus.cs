using Conclave.Storage;

namespace Conclave.Server.Backup;

/// <summary>
/// A snapshot file, checked (<c>conclave snapshot status</c>): the file, the SHA-256 it ends with, its size, and what its
/// image holds.
/// </summary>
/// <param name="Path">The file.</param>
/// <param name="Sha256">The SHA-256 the file ends with, lower-case hex, checked against its bytes; empty when the check was skipped.</param>
/// <param name="FileSize">The file's size in bytes (the image, its padding and the hash).</param>
/// <param name="Image">What the image holds, as <see cref="SnapshotImage"/> read it.</param>
public sealed record SnapshotFileStatus(string Path, string Sha256, long FileSize, SnapshotImageSummary Image);

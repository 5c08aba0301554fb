namespace Conclave.Server.Console;

/// <summary>One embedded file of the web console, ready to send: bytes, media type and a strong ETag.</summary>
internal sealed record ConsoleAsset(string Path, byte[] Content, string ContentType, string ETag);

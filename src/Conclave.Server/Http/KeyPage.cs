namespace Conclave.Server.Http;

/// <summary>One page of keys under a prefix, read at <see cref="Revision"/>; <see cref="More"/> when the prefix holds more.</summary>
public sealed record KeyPage(string Prefix, long Revision, IReadOnlyList<KeyView> Keys, bool More);

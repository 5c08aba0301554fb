namespace Conclave.Server.Http;

/// <summary>
/// One message of a key watch stream: <c>ready</c> first (with the revision the watch starts after), then a
/// <c>put</c> or <c>delete</c> per changed key, in revision order; <c>failed</c> (with <see cref="Detail"/>) ends it.
/// </summary>
public sealed record KeyWatchEvent(string Type, long Revision, KeyView? Kv, string? Detail = null);

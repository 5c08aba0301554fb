namespace Conclave.Server.Http;

/// <summary>
/// A lock or election queue, recognised by etcd's recipe (<c>name/leaseHex</c> keys held by that lease): the holder
/// is the key with the lowest create revision, which is its fencing token. Elections carry a value (the proposal);
/// locks do not.
/// </summary>
public sealed record LockView(string Name, string Kind, LockHolderView Holder, IReadOnlyList<LockHolderView> Waiters);

namespace Conclave.Client;

/// <summary>One change to a watched key.</summary>
/// <param name="Type">Whether the key was put or deleted.</param>
/// <param name="Entry">The key after the change; for a delete, the key with the delete revision as <see cref="KeyValueEntry.ModRevision"/>.</param>
/// <param name="PrevEntry">The key before the change, when asked for with <see cref="WatchOptions.PrevKv"/>.</param>
public sealed record WatchEvent(WatchEventType Type, KeyValueEntry Entry, KeyValueEntry? PrevEntry)
{
    /// <summary>Revision at which the change happened.</summary>
    public long Revision => Entry.ModRevision;

    internal static WatchEvent From(Conclave.Api.Mvcc.Event e) =>
        new(
            e.Type == Conclave.Api.Mvcc.Event.Types.EventType.Delete ? WatchEventType.Delete : WatchEventType.Put,
            KeyValueEntry.From(e.Kv),
            KeyValueEntry.FromOptional(e.PrevKv));
}

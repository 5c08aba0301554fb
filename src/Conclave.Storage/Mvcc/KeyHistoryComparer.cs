namespace Conclave.Storage.Mvcc;

internal sealed class KeyHistoryComparer : IComparer<KeyHistory>
{
    public static KeyHistoryComparer Instance { get; } = new();

    public int Compare(KeyHistory? x, KeyHistory? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        return x!.KeySpan.SequenceCompareTo(y!.KeySpan);
    }
}

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

        if (x!.IsUpperBound)
        {
            return 1;
        }

        if (y!.IsUpperBound)
        {
            return -1;
        }

        return KeyOrder.Compare(x.Key, y.Key);
    }
}

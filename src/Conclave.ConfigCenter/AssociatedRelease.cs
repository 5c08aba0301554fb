using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter;

/// <summary>
/// What a client of an associated namespace receives: the public base's effective release with the association's
/// own effective release applied over it. Properties merge per key (the association's value wins; base keys keep
/// their order, new keys follow); other formats take the association's document when it has one. Its id is
/// <c>(base release id &lt;&lt; 32) | own release id</c>, so it changes whenever either side changes and a client's
/// <c>last_seen</c> and reports name exactly the pair it runs.
/// </summary>
public static class AssociatedRelease
{
    public static long Id(long baseId, long ownId) => (baseId << 32) | (ownId & 0xFFFF_FFFFL);

    /// <summary>The base release id of a combined id.</summary>
    public static long BaseOf(long id) => id >> 32;

    /// <summary>The association's own release id of a combined id.</summary>
    public static long OwnOf(long id) => id & 0xFFFF_FFFFL;

    public static EffectiveRelease? Merge(NamespaceRecord association, EffectiveRelease? baseRelease, EffectiveRelease? own)
    {
        if (baseRelease is null && own is null)
        {
            return null;
        }

        var b = baseRelease?.Release;
        var o = own?.Release;
        string content;
        var configurations = new Dictionary<string, string>(StringComparer.Ordinal);
        if (association.Format == NamespaceFormat.Properties)
        {
            var items = new List<ConfigItem>();
            var at = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (key, value) in Pairs(b).Concat(Pairs(o)))
            {
                if (at.TryGetValue(key, out var index))
                {
                    items[index] = new ConfigItem(key, value);
                }
                else
                {
                    at[key] = items.Count;
                    items.Add(new ConfigItem(key, value));
                }

                configurations[key] = value;
            }

            content = PropertiesDocument.Render(items);
        }
        else
        {
            content = o?.Content ?? b!.Content;
        }

        var newest = (o?.CreatedAt ?? DateTimeOffset.MinValue) > (b?.CreatedAt ?? DateTimeOffset.MinValue) ? o! : b!;
        var release = new ReleaseRecord
        {
            App = association.App, Env = association.Env, Namespace = association.Name, Id = Id(b?.Id ?? 0, o?.Id ?? 0),
            Kind = ReleaseKind.Normal, Format = association.Format,
            Title = b is not null && o is not null ? $"{b.Title} + {o.Title}" : newest.Title,
            Comment = $"{association.BaseApp} release {b?.Id ?? 0}, {association.App} overrides release {o?.Id ?? 0}",
            Author = newest.Author, CreatedAt = newest.CreatedAt, Content = content, Configurations = configurations,
            ContentHash = ConfigCenterService.Hash(content),
        };
        return new EffectiveRelease(release, baseRelease?.IsGray == true || own?.IsGray == true);
    }

    // A properties release lists its keys in document order in Content; Configurations is the map.
    private static IEnumerable<KeyValuePair<string, string>> Pairs(ReleaseRecord? release) =>
        release is null ? [] : PropertiesDocument.Parse(release.Content, new ConfigLimits { MaxContentBytes = int.MaxValue }).Select(i => KeyValuePair.Create(i.Key, i.Value));
}

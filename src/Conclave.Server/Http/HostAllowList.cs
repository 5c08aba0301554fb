using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;

namespace Conclave.Server.Http;

/// <summary>
/// The <c>Host</c> names the HTTP listener answers (etcd's <c>--host-whitelist</c>), against DNS rebinding: a page
/// whose name an attacker re-points at this member reaches it under that name, which is not on the list.
/// </summary>
/// <remarks>
/// Always allowed, because no attacker can make a browser send them for a page of theirs: an IP address (rebinding
/// needs a name the attacker resolves), <c>localhost</c>, this machine's host name, and the hosts of the member's own
/// listen and advertise URLs. <c>--host-whitelist</c> adds names (a load balancer's, a DNS alias), which are then
/// also trusted as the origin of pages that write (see <see cref="CrossSiteGuard"/>); <c>*</c> answers any name, as
/// etcd does by default.
/// </remarks>
internal sealed class HostAllowList
{
    private readonly FrozenSet<string> names;
    private readonly FrozenSet<string> configured;

    private HostAllowList(FrozenSet<string> names, FrozenSet<string> configured, bool allowsAny)
    {
        this.names = names;
        this.configured = configured;
        AllowsAny = allowsAny;
    }

    /// <summary><c>--host-whitelist '*'</c>: every Host is answered.</summary>
    public bool AllowsAny { get; }

    /// <param name="configured">The operator's <c>--host-whitelist</c> entries (names, <c>name:port</c>, or <c>*</c>); null or empty for none.</param>
    /// <param name="ownUrls">The member's listen and advertise URLs.</param>
    public static HostAllowList Create(IReadOnlyList<string>? configured, IEnumerable<string> ownUrls)
    {
        var entries = (configured ?? []).Select(static e => e.Trim()).Where(static e => e.Length > 0).ToList();
        var explicitNames = entries.Where(static e => e != "*").Select(HostOf).OfType<string>().ToFrozenSet(StringComparer.Ordinal);
        var own = ownUrls.Select(HostOf).OfType<string>()
            .Append("localhost")
            .Append(Normalize(Dns.GetHostName()))
            .Concat(explicitNames)
            .OfType<string>()
            .ToFrozenSet(StringComparer.Ordinal);
        return new HostAllowList(own, explicitNames, entries.Contains("*"));
    }

    /// <summary>Whether a request whose Host header names <paramref name="host"/> (without the port) is answered.</summary>
    public bool AllowsHost(string host) => AllowsAny || Normalize(host) is { } name && (names.Contains(name) || IsIpLiteral(name));

    /// <summary>Whether pages from <paramref name="host"/> are trusted to write: only names the operator listed.</summary>
    public bool TrustsOrigin(string host) => Normalize(host) is { } name && configured.Contains(name);

    /// <summary>For the start-up log line.</summary>
    public string Describe() => AllowsAny
        ? "any host name (--host-whitelist *)"
        : "IP addresses and " + string.Join(", ", names.Order(StringComparer.Ordinal));

    /// <summary>The host of a URL or of a <c>host[:port]</c> entry, normalized.</summary>
    private static string? HostOf(string entry)
    {
        if (entry.Contains("://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(entry, UriKind.Absolute, out var uri) ? Normalize(uri.Host) : null;
        }

        return Uri.TryCreate("http://" + entry, UriKind.Absolute, out var parsed) ? Normalize(parsed.Host) : Normalize(entry);
    }

    /// <summary>Lower case, no trailing dot, IPv6 without brackets; null for an empty name.</summary>
    private static string? Normalize(string host)
    {
        var name = host.Trim().TrimEnd('.').ToLowerInvariant();
        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            name = name[1..^1];
        }

        return name.Length == 0 ? null : name;
    }

    /// <summary>
    /// An IP address as a browser writes it: IPv6, or IPv4 in dotted-quad form (forms such as <c>127.1</c> or
    /// <c>0x7f.0.0.1</c> parse too, but browsers rewrite them to dotted quads before sending; anything else is a name).
    /// </summary>
    private static bool IsIpLiteral(string name) =>
        IPAddress.TryParse(name, out var address)
        && (address.AddressFamily == AddressFamily.InterNetworkV6 || address.ToString() == name);
}

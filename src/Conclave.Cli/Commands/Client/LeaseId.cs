using System.Globalization;

namespace Conclave.Cli.Commands.Client;

/// <summary>Lease IDs on the command line are hexadecimal, as etcdctl prints and reads them.</summary>
internal static class LeaseId
{
    public static bool TryParse(string? text, out long lease)
    {
        lease = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out lease);
    }
}

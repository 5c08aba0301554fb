using System.Text.RegularExpressions;

namespace Conclave.Server.Security;

/// <summary>
/// A time limit for every regular expression the member runs without one of its own: the JSON Schema <c>pattern</c>s
/// a namespace's schema names run on every document published to it, and JsonSchema.Net builds them without a
/// timeout. A pattern that backtracks (<c>^(\w+\s?)*$</c> on 26 letters and a <c>!</c> took 3.7 s, doubling with each
/// letter) would hold a core for hours per publish; with the limit the publish is refused after a second. The default
/// is read once, when the process builds its first regular expression, so the CLI sets it as its very first statement
/// (argument parsing may build one); the server applies it again at start for hosts that did not.
/// </summary>
public static class RegexTimeLimit
{
    /// <summary>How long one match may run.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(1);

    // Read once per process, when the first regular expression is built: it must be set before.
    private const string DefaultMatchTimeoutKey = "REGEX_DEFAULT_MATCH_TIMEOUT";

    /// <summary>Sets the process's default match timeout unless one is set; false when it came too late to take effect.</summary>
    public static bool Apply()
    {
        if (AppContext.GetData(DefaultMatchTimeoutKey) is null)
        {
            AppContext.SetData(DefaultMatchTimeoutKey, Limit);
        }

        return new Regex("x", RegexOptions.None).MatchTimeout != Regex.InfiniteMatchTimeout;
    }
}

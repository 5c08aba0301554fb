using Conclave.Client;
using Conclave.Extensions.Configuration.Internal;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// An item key reaches <c>IConfiguration</c> as the center stores it (issue 22): a <c>/</c> stays a <c>/</c> (the center
/// now keeps it verbatim; before, a key set through the HTTP API arrived as <c>a%2Fb</c>), and only the dots of a
/// properties key become configuration path separators.
/// </summary>
public sealed class ItemKeyTests
{
    [Fact]
    public void A_slash_in_a_key_is_kept_and_dots_become_sections()
    {
        var release = new ConfigRelease("shop", "PRO", "application", 1, "properties", "",
            new Dictionary<string, string> { ["db/primary.host"] = "pg-1", ["a/b"] = "1" }, "", false, "", "", DateTimeOffset.UnixEpoch);
        var data = ReleaseFlattener.Flatten(release);
        Assert.Equal("pg-1", data["db/primary:host"]);
        Assert.Equal("1", data["a/b"]);
    }
}

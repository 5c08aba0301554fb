using System.Net;
using System.Security.Cryptography;
using Conclave.Server.Config;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// The channel rule for secret values (ADR 0015 decision 6): delivered over TLS or to a loopback peer, never in plain
/// text across a network (a member started with <c>--insecure-listen</c> still keeps them off it); and a master key
/// file other accounts can read is refused at start, as ssh refuses such a private key.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecretChannelTests : IDisposable
{
    private readonly TempDirectory directory = TempDirectory.Create("conclave-secret-channel-");

    public void Dispose() => directory.Dispose();

    [Theory]
    [InlineData("127.0.0.1", false, true)]
    [InlineData("::1", false, true)]
    [InlineData("::ffff:127.0.0.1", false, true)]
    [InlineData("10.0.0.7", false, false)]
    [InlineData("::ffff:10.0.0.7", false, false)]
    [InlineData("fd00::7", false, false)]
    [InlineData("10.0.0.7", true, true)]
    public void Only_tls_or_loopback_is_a_secure_channel(string remote, bool https, bool secure)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        http.Request.Scheme = https ? "https" : "http";
        Assert.Equal(secure, ClientCallers.IsSecure(http));
    }

    [Fact]
    public void A_master_key_file_open_to_other_accounts_is_refused_naming_the_fix()
    {
        var path = directory.Combine("master.key");
        File.WriteAllText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        foreach (var mode in new[] { UnixFileMode.OtherRead, UnixFileMode.GroupRead, UnixFileMode.GroupWrite })
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | mode);
            var refused = Assert.Throws<ArgumentException>(() => MasterKeySources.Load([path], null));
            Assert.Contains($"chmod 600 {path}", refused.Message, StringComparison.Ordinal);
            Assert.Contains(MasterKeySources.FileFlag, refused.Message, StringComparison.Ordinal);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.NotNull(MasterKeySources.Load([path], null));
        File.SetUnixFileMode(path, UnixFileMode.UserRead);
        Assert.NotNull(MasterKeySources.Load([path], null));
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Conclave.Api.Auth;
using Conclave.Api.Etcd;
using Conclave.Server.Security.Auth;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// <c>--auth-token jwt,...</c> on real members: keys made by openssl as an operator makes them, etcdctl 3.4 signing in
/// and working through its tokens, the JSON gateway handing out a JWT that openssl itself verifies with the public key, and
/// a cluster where one member holds only the public key: it accepts every member's tokens and issues none.
/// </summary>
public sealed class JwtMemberTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory directory = TempDirectory.Create("conclave-jwt-member-");

    public void Dispose() => directory.Dispose();

    private static async Task<string> OpensslAsync(params string[] args)
    {
        var start = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(process.ExitCode == 0, $"openssl {string.Join(' ', args)}: exit {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    /// <summary>A key pair made by openssl: (private key PEM file, public key PEM file).</summary>
    private async Task<(string Private, string Public)> KeysAsync(string algorithm, string name)
    {
        var (priv, pub) = (directory.Combine($"{name}.key"), directory.Combine($"{name}.pub"));
        if (algorithm == "RSA")
        {
            await OpensslAsync("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", priv);
        }
        else
        {
            await OpensslAsync("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", priv);
        }

        await OpensslAsync("pkey", "-in", priv, "-pubout", "-out", pub);
        return (priv, pub);
    }

    [Fact]
    public async Task Etcdctl_and_the_gateway_work_with_RS256_tokens_that_openssl_verifies()
    {
        var (priv, pub) = await KeysAsync("RSA", "jwt");
        await using var node = await NodeProcess.StartAsync(directory.Combine("data"), new NodeProcessOptions
        {
            Output = output,
            ExtraArguments = ["--auth-token", $"jwt,pub-key={pub},priv-key={priv},sign-method=RS256,ttl=2m", "--bcrypt-cost", "4"],
        });
        var e = node.Endpoint;
        foreach (var step in new[] { "user add root:rootpw", "user add alice:alicepw", "role add app", "role grant-permission app readwrite app/ --prefix", "user grant-role alice app", "auth enable" })
        {
            (await Etcdctl.RunAsync(e, step.Split(' '))).EnsureSuccess();
        }

        (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "put", "app/x", "1")).EnsureSuccess();
        Assert.Equal(["1"], (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "get", "app/x", "--print-value-only")).EnsureSuccess().Lines);
        var denied = await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "put", "other", "1");
        Assert.Contains("etcdserver: permission denied", denied.Stderr, StringComparison.Ordinal);

        // The gateway's authenticate returns a JWT with etcd's claims, signed so that openssl verifies it with the public key.
        using var http = node.CreateHttpClient();
        using var signIn = await http.PostAsync(new Uri("/v3/auth/authenticate", UriKind.Relative), new StringContent("""{"name":"alice","password":"alicepw"}""", Encoding.UTF8, "application/json"));
        var body = await signIn.Content.ReadAsStringAsync();
        Assert.True(signIn.IsSuccessStatusCode, body);
        var token = JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        using (var claims = JsonDocument.Parse(SimpleTokens.FromBase64Url(parts[1])!))
        {
            Assert.Equal("alice", claims.RootElement.GetProperty("username").GetString());
            var exp = DateTimeOffset.FromUnixTimeSeconds(claims.RootElement.GetProperty("exp").GetInt64());
            Assert.InRange(exp - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(121));
        }

        var input = directory.Combine("signed.txt");
        var signature = directory.Combine("signature.bin");
        await File.WriteAllTextAsync(input, $"{parts[0]}.{parts[1]}");
        await File.WriteAllBytesAsync(signature, SimpleTokens.FromBase64Url(parts[2])!);
        Assert.Contains("Verified OK", await OpensslAsync("dgst", "-sha256", "-verify", pub, "-signature", signature, input), StringComparison.Ordinal);

        // The token reads through the gateway; a token with a changed claim does not.
        foreach (var (candidate, expected) in new[] { (token, HttpStatusCode.OK), ($"{parts[0]}.{SimpleTokens.Base64Url(Encoding.UTF8.GetBytes($$"""{"username":"root","revision":99,"exp":{{DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()}}}"""))}.{parts[2]}", HttpStatusCode.Unauthorized) })
        {
            using var range = new HttpRequestMessage(HttpMethod.Post, "/v3/kv/range") { Content = new StringContent("""{"key":"YXBwL3g="}""", Encoding.UTF8, "application/json") };
            range.Headers.TryAddWithoutValidation("Authorization", candidate);
            using var response = await http.SendAsync(range);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {text}");
            if (expected == HttpStatusCode.OK)
            {
                Assert.Equal("1", JsonDocument.Parse(text).RootElement.GetProperty("count").ToString());
            }
        }
    }

    [Fact]
    public async Task A_member_with_only_the_public_key_accepts_every_members_tokens_and_issues_none()
    {
        var (priv, pub) = await KeysAsync("EC", "es256");
        await using var cluster = await TestCluster.StartAsync(3, output, o => o with
        {
            Auth = new AuthSettings { BcryptCost = 4, Jwt = new JwtSettings("ES256", o.Name == "m3" ? null : priv, o.Name == "m3" ? pub : null, TimeSpan.FromMinutes(5)) },
        });
        var e = cluster.Endpoints[0];
        foreach (var step in new[] { "user add root:rootpw", "user add alice:alicepw", "role add app", "role grant-permission app readwrite app/ --prefix", "user grant-role alice app", "auth enable" })
        {
            (await Etcdctl.RunAsync(e, step.Split(' '))).EnsureSuccess();
        }

        using var first = GrpcChannel.ForAddress(cluster.Endpoints[0]);
        var token = (await new Auth.AuthClient(first).AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;

        using var verifyOnly = GrpcChannel.ForAddress(cluster.Endpoints[2]);
        var kv = new KV.KVClient(verifyOnly);
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("app/m3"), Value = ByteString.CopyFromUtf8("v") }, new Metadata { { Authenticator.TokenMetadata, token } });
        Assert.Equal(1, (await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("app/m3") }, new Metadata { { Authenticator.TokenMetadata, token } })).Count);

        var refused = await Assert.ThrowsAsync<RpcException>(() => new Auth.AuthClient(verifyOnly).AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal("etcdserver: not capable", refused.Status.Detail);
        Assert.Contains("priv-key", refused.Trailers.GetValue(Api.Errors.ErrorCatalogue.DetailTrailer) ?? "", StringComparison.Ordinal);
    }
}

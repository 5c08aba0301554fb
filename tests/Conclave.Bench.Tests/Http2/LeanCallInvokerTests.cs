using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Http2;

public sealed class LeanCallInvokerTests
{
    [Theory]
    [InlineData("127.0.0.1:2379", "127.0.0.1", 2379, "127.0.0.1:2379")]
    [InlineData("http://localhost:23790", "localhost", 23790, "localhost:23790")]
    [InlineData("http://[::1]:2379", "::1", 2379, "[::1]:2379")]
    [InlineData("http://example.com", "example.com", 80, "example.com")]
    public void Takes_cleartext_endpoints(string endpoint, string host, int port, string authority)
    {
        Assert.True(LeanCallInvoker.TryCreate(endpoint, out var invoker));
        using (invoker)
        {
            Assert.Equal((host, port, authority), invoker.Target);
        }
    }

    [Theory]
    [InlineData("https://127.0.0.1:2379")]
    [InlineData("unix:///tmp/etcd.sock")]
    public void Leaves_other_schemes_to_grpc_dotnet(string endpoint) => Assert.False(LeanCallInvoker.TryCreate(endpoint, out _));

    [Theory]
    [InlineData("127.0.0.1:2379", "127.0.0.1", 2379, "127.0.0.1:2379")]
    [InlineData("https://localhost:23790", "localhost", 23790, "localhost:23790")]
    [InlineData("https://example.com", "example.com", 443, "example.com")]
    public void With_tls_takes_https_and_bare_endpoints(string endpoint, string host, int port, string authority)
    {
        Assert.True(LeanCallInvoker.TryCreate(endpoint, BenchTls.Load(null, null, null), out var invoker));
        using (invoker)
        {
            Assert.Equal((host, port, authority), invoker.Target);
        }
    }

    [Fact]
    public void With_tls_an_http_endpoint_is_not_taken() =>
        Assert.False(LeanCallInvoker.TryCreate("http://127.0.0.1:2379", BenchTls.Load(null, null, null), out _));
}

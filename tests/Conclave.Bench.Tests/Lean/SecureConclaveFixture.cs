using Conclave.Server.Security;
using Conclave.Server.Security.Auth;

namespace Conclave.Bench.Tests.Lean;

/// <summary>
/// One in-process Conclave member with TLS on its client listener and auth enabled, set up as
/// <c>SECURE=1 bench/compare-etcd.sh</c> sets up both servers (through the real etcdctl): root, and bench with
/// readwrite on put's keys (["0", ":")) and on bench-range-key.
/// </summary>
public sealed class SecureConclaveFixture : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new();
    private TestNode? _node;

    public string CaFile => _certificates.CaFile;

    /// <summary>The client URL as <c>host:port</c>, so that <c>--cacert</c> alone decides TLS.</summary>
    public string HostPort => (_node?.Endpoint ?? throw new InvalidOperationException("The node is not running."))["https://".Length..];

    public async Task InitializeAsync()
    {
        var member = _certificates.IssueMember();
        _node = await TestNode.StartInProcessAsync(
            configure: o => o with
            {
                Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key, TrustedCaFile = _certificates.CaFile },
                Auth = new AuthSettings { BcryptCost = 4 },
            },
            https: true);
        string[][] setup =
        [
            ["user", "add", "root:rootpw"], ["role", "add", "root"], ["user", "grant-role", "root", "root"],
            ["user", "add", "bench:benchpw"], ["role", "add", "bench"],
            ["role", "grant-permission", "bench", "readwrite", "0", ":"], ["role", "grant-permission", "bench", "readwrite", "bench-range-key"],
            ["user", "grant-role", "bench", "bench"], ["auth", "enable"],
        ];
        foreach (var args in setup)
        {
            (await Etcdctl.RunAsync(_node.Endpoint, ["--cacert", CaFile, .. args])).EnsureSuccess();
        }

        (await Etcdctl.RunAsync(_node.Endpoint, "--cacert", CaFile, "--user", "bench:benchpw", "put", "bench-range-key", "v")).EnsureSuccess();
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _certificates.Dispose();
    }
}

using Conclave.Server.Security.Auth;

namespace Conclave.Server.Tests.Clients;

/// <summary>
/// The npm <c>etcd3</c> package (1.1.2, pinned in tests/clients/etcd3/package-lock.json) drives etcd's Auth service
/// through its public API (tests/clients/etcd3/auth.mjs): users and roles as root, auth enable (which, unlike etcdctl,
/// it leaves to the caller to prepare with the root role), a user's client inside and outside its prefix grant with the
/// package's error classes, watches, wrong credentials, and the package's sign-in again when the member answers
/// "etcdserver: invalid auth token" for a token that a password change ended. The same program passes against etcd 3.4.
/// </summary>
public sealed class NpmEtcd3AuthTests(ITestOutputHelper output)
{
    /// <summary>Each step of auth.mjs has a 30 s deadline of its own; this one bounds the whole run on a busy machine.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    private static readonly string[] Steps =
    [
        "start",
        "users-and-roles-as-root",
        "existing-names-refused",
        "auth-enable-needs-the-root-role",
        "auth-enable",
        "no-credentials-refused",
        "wrong-password-refused",
        "unknown-user-refused",
        "put-and-get-inside-the-grant",
        "outside-the-grant-refused",
        "watch-inside-the-grant",
        "watch-outside-the-grant-refused",
        "token-refresh-after-the-token-ends",
        "open-watch-outlives-the-token",
        "watch-with-an-ended-token",
        "done",
    ];

    [Fact]
    public async Task The_npm_etcd3_clients_auth_flows_work_as_against_etcd()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new AuthSettings { BcryptCost = 4 } });

        var run = await NodeProgram.RunAsync("etcd3", "auth.mjs", [node.Endpoint, "--with-ended-token-watch"], output, Deadline);

        Assert.True(run.ExitCode == 0, $"auth.mjs failed:\n{run}");
        var steps = run.JsonLines.Select(line => (Step: line.GetProperty("step").GetString(), Ok: line.GetProperty("ok").GetBoolean())).ToList();
        Assert.All(steps, s => Assert.True(s.Ok, $"step {s.Step} failed:\n{run}"));
        Assert.Equal(Steps, steps.Select(s => s.Step));
    }
}

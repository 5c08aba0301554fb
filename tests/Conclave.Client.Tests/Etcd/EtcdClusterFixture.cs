using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Etcd;

/// <summary>A three-member etcd 3.4 cluster on loopback ports.</summary>
public sealed class EtcdClusterFixture : KvClusterFixture
{
    private EtcdProcess[] _members = [];

    public override IReadOnlyList<string> Endpoints => [.. _members.Select(m => m.ClientUrl)];

    public override string Diagnostics => string.Join("\n", _members.Select(m => m.Log));

    public override async Task InitializeAsync()
    {
        _members = await EtcdProcess.StartClusterAsync(3, CancellationToken.None);
    }

    public override Task KillMemberAsync(int index, CancellationToken cancellationToken)
    {
        _members[index].KillOnly();
        return Task.CompletedTask;
    }

    public override Task KillAndRestartAsync(CancellationToken cancellationToken) => _members[0].KillAndRestartAsync(cancellationToken);

    public override async Task DisposeAsync()
    {
        foreach (var member in _members)
        {
            await member.DisposeAsync();
        }
    }
}

using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Many writers of one namespace at once (an import tool, a pipeline, several editors), none guarding a revision: every
/// edit lands. Through one member they queue at the namespace's gate; a second service over the same store (as another
/// member's) races them through the guard and its retries. Before the gate, 48 writers through one member lost edits
/// with "concurrent edit" conflicts (each lost round a failed replicated transaction).
/// </summary>
public sealed class NamespaceGateTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Every_edit_of_many_concurrent_writers_lands_and_no_gate_is_left_behind()
    {
        var center = fixture.Center;
        var other = new ConfigCenterService(fixture.NewPort());
        var app = "gate-" + Guid.NewGuid().ToString("N")[..10];
        var owner = new ChangeContext("olivia", "test") { Enforced = true };
        await center.CreateAppAsync(app, null, owner.Author, new ChangeContext("setup"));
        await center.CreateEnvironmentAsync(app, "DEV", owner);
        await center.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, owner);

        const int Writers = 48, EditsEach = 4;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            // Every eighth writer goes through the other service, as a client of another member would.
            var service = w % 8 == 7 ? other : center;
            for (var e = 0; e < EditsEach; e++)
            {
                await service.SetItemAsync(app, "DEV", "p", new ConfigItem($"w{w:D2}e{e}", $"{w}.{e}"), 0, owner);
            }
        })));

        var items = (await center.GetNamespaceAsync(app, "DEV", "p")).Items;
        Assert.Equal(Writers * EditsEach, items.Count);
        Assert.All(Enumerable.Range(0, Writers), w => Assert.Equal($"{w}.{EditsEach - 1}", items.Single(i => i.Key == $"w{w:D2}e{EditsEach - 1}").Value));
        Assert.Equal(0, center.GateCount);
        Assert.Equal(0, other.GateCount);
    }
}

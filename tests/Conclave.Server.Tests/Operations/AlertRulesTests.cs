namespace Conclave.Server.Tests.Operations;

/// <summary>deploy/prometheus/conclave-rules.yml is valid for Prometheus and its alerts fire when (and only when) they should.</summary>
public sealed class AlertRulesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Promtool_accepts_the_rules()
    {
        var (code, text) = await DeployFiles.RunAsync(DeployFiles.Promtool, Path.GetDirectoryName(DeployFiles.Rules)!, "check", "rules", DeployFiles.Rules);
        output.WriteLine(text);
        Assert.True(code == 0, text);
        Assert.Contains("SUCCESS", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_alerts_pass_their_unit_tests()
    {
        var (code, text) = await DeployFiles.RunAsync(DeployFiles.Promtool, Path.GetDirectoryName(DeployFiles.RulesTests)!, "test", "rules", DeployFiles.RulesTests);
        output.WriteLine(text);
        Assert.True(code == 0, text);
        Assert.Contains("SUCCESS", text, StringComparison.Ordinal);
    }
}

using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

/// <summary>The plan text people write (CLI --plan, console, API plan.text): its grammar, and a property test over hostile input.</summary>
public sealed class RolloutPlanTextTests
{
    [Fact]
    public void Steps_bakes_defaults_and_strategies()
    {
        Assert.Equal([new RolloutStep(1, 300), new RolloutStep(10, 300), new RolloutStep(50, 600), new RolloutStep(100, 3600)], RolloutPlanText.Parse("1%, 10%@5m,50%@10m , 100%@1h"));
        Assert.Equal([new RolloutStep(0.5, 90), new RolloutStep(100, 86400)], RolloutPlanText.Parse("0.5%@90s,100%@1d"));
        Assert.Equal([new RolloutStep(100, 42)], RolloutPlanText.Parse("100%", defaultBakeSeconds: 42));
        foreach (var (name, text) in RolloutPlanText.Strategies)
        {
            Assert.Equal(RolloutPlanText.Parse(text), RolloutPlanText.Parse(name));
            Assert.Equal(100, RolloutPlanText.Parse(name)[^1].Percentage);
        }
    }

    [Theory]
    [InlineData("", "is not a step")]
    [InlineData("10", "is not a step")]
    [InlineData("10%@", "bake time")]
    [InlineData("10%@5", "bake time")]
    [InlineData("10%@5w", "bake time")]
    [InlineData("10%@-5m", "bake time")]
    [InlineData("10%@8d", "bake time")]
    [InlineData("10%@99999999999999999999s", "bake time")]
    [InlineData("-10%", "is not a step")]
    [InlineData("1e2%", "is not a step")]
    [InlineData("canary2", "is not a step")]
    public void Mistakes_are_refused_naming_the_part(string text, string why)
    {
        var refused = Assert.Throws<ConfigCenterException>(() => RolloutPlanText.Parse(text));
        Assert.Equal(ConfigErrorKind.InvalidArgument, refused.Kind);
        Assert.Contains(why, refused.Message, StringComparison.Ordinal);
        Assert.StartsWith("plan: ", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_and_mutated_text_parses_or_is_refused_clearly_never_anything_else()
    {
        var random = new Random(20261206);
        const string alphabet = "0123456789%@,.smhdw -+e\u00a0\u0000%@";
        var seeds = RolloutPlanText.Strategies.Values.Concat(["1%,10%@5m,100%@1h"]).ToArray();
        for (var i = 0; i < 20_000; i++)
        {
            string text;
            if (i % 2 == 0)
            {
                text = new string(Enumerable.Range(0, random.Next(0, 60)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            }
            else
            {
                var chars = seeds[random.Next(seeds.Length)].ToCharArray().ToList();
                for (var m = random.Next(1, 4); m > 0 && chars.Count > 0; m--)
                {
                    var at = random.Next(chars.Count);
                    switch (random.Next(3))
                    {
                        case 0: chars.RemoveAt(at); break;
                        case 1: chars.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: chars[at] = alphabet[random.Next(alphabet.Length)]; break;
                    }
                }

                text = new string([.. chars]);
            }

            try
            {
                var steps = RolloutPlanText.Parse(text);
                Assert.All(steps, s => Assert.True(s.Percentage >= 0 && s.BakeSeconds is >= 0 and <= 7 * 86400, text));
                Assert.InRange(steps.Count, 1, ConfigCenterService.MaxRolloutSteps);
            }
            catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.InvalidArgument && e.Message.StartsWith("plan: ", StringComparison.Ordinal))
            {
            }
        }

        Assert.Throws<ConfigCenterException>(() => RolloutPlanText.Parse(new string('1', RolloutPlanText.MaxLength + 1)));
        Assert.Throws<ConfigCenterException>(() => RolloutPlanText.Parse(string.Join(",", Enumerable.Repeat("1%", ConfigCenterService.MaxRolloutSteps + 1))));
    }
}

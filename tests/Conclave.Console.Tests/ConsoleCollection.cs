namespace Conclave.Console.Tests;

/// <summary>The browser tests share one node and one browser, and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleFixture>
{
    public const string Name = "console";
}

using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Http2;

/// <summary>A test of the lean client against a <see cref="ScriptedH2Server"/>: the server and an invoker dialling it.</summary>
public abstract class ScriptedClientTest : IDisposable
{
    protected ScriptedClientTest()
    {
        Server = ScriptedH2Server.Start();
        Assert.True(LeanCallInvoker.TryCreate("http://" + Server.Endpoint, out var invoker));
        Invoker = invoker;
    }

    internal ScriptedH2Server Server { get; }

    internal LeanCallInvoker Invoker { get; }

    public void Dispose()
    {
        Invoker.Dispose();
        Server.Dispose();
        GC.SuppressFinalize(this);
    }
}

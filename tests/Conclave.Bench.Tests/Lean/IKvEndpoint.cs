namespace Conclave.Bench.Tests.Lean;

/// <summary>An etcd-v3 server the lean transport is checked against.</summary>
public interface IKvEndpoint
{
    /// <summary>The gRPC URL, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    string Endpoint { get; }
}

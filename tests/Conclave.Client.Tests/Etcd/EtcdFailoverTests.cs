using Conclave.Client.Tests.Conformance;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The failover suite against a three-member etcd 3.4 cluster.</summary>
public sealed class EtcdFailoverTests(EtcdClusterFixture fixture) : FailoverConformanceTests(fixture), IClassFixture<EtcdClusterFixture>;

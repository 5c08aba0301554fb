using Conclave.Client.Tests.Conformance;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The Watch conformance suite against a real etcd 3.4 process (its own, per class).</summary>
public sealed class EtcdWatchTests(EtcdFixture fixture) : WatchConformanceTests(fixture), IClassFixture<EtcdFixture>;

using Conclave.Client.Tests.Conformance;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The Kv conformance suite against a real etcd 3.4 process (its own, per class).</summary>
public sealed class EtcdKvTests(EtcdFixture fixture) : KvConformanceTests(fixture), IClassFixture<EtcdFixture>;

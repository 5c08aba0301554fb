using Conclave.Client.Tests.Conformance;

namespace Conclave.Client.Tests.Etcd;

// The conformance suites run against a real etcd 3.4 process; each class gets its own etcd.

public sealed class EtcdKvTests(EtcdFixture fixture) : KvConformanceTests(fixture), IClassFixture<EtcdFixture>;

public sealed class EtcdWatchTests(EtcdFixture fixture) : WatchConformanceTests(fixture), IClassFixture<EtcdFixture>;

public sealed class EtcdWatchResumeTests(EtcdFixture fixture) : WatchResumeConformanceTests(fixture), IClassFixture<EtcdFixture>;

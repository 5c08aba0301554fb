using Conclave.Client.Tests.Conformance;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The WatchResume conformance suite against a real etcd 3.4 process (its own, per class).</summary>
public sealed class EtcdWatchResumeTests(EtcdFixture fixture) : WatchResumeConformanceTests(fixture), IClassFixture<EtcdFixture>;

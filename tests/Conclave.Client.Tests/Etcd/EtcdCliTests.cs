using Conclave.Client.Tests.Cli;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The CLI suite against a real etcd 3.4 process.</summary>
public sealed class EtcdCliTests(EtcdFixture fixture) : CliConformanceTests(fixture), IClassFixture<EtcdFixture>;

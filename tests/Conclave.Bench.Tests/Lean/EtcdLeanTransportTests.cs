namespace Conclave.Bench.Tests.Lean;

public sealed class EtcdLeanTransportTests(EtcdServerFixture etcd) : LeanTransportConformance(etcd), IClassFixture<EtcdServerFixture>;

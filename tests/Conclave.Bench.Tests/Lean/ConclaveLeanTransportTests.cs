namespace Conclave.Bench.Tests.Lean;

public sealed class ConclaveLeanTransportTests(ConclaveNodeFixture node) : LeanTransportConformance(node), IClassFixture<ConclaveNodeFixture>;

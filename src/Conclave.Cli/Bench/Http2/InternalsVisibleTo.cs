using System.Runtime.CompilerServices;

// The lean transport is internal; its tests live in tests/Conclave.Cli.Tests. Its framing and HPACK live in
// Conclave.Server.Http2 and are tested in tests/Conclave.Server.Tests/Http2.
[assembly: InternalsVisibleTo("Conclave.Cli.Tests")]

using System.Runtime.CompilerServices;

// The lean transport is internal (its framing and HPACK live in Conclave.Server.Http2); their unit and end-to-end tests live in
// tests/Conclave.Cli.Tests.
[assembly: InternalsVisibleTo("Conclave.Cli.Tests")]

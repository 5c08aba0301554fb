using System.Runtime.CompilerServices;

// The HPACK decoder, frame parser and lean transport are internal; their unit and end-to-end tests live in
// tests/Conclave.Cli.Tests.
[assembly: InternalsVisibleTo("Conclave.Cli.Tests")]

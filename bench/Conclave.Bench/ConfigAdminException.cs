namespace Conclave.Bench;

/// <summary>The configuration API refused a setup or publish request, or could not be reached.</summary>
internal sealed class ConfigAdminException(string message) : Exception(message);

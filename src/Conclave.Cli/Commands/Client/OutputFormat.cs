namespace Conclave.Cli.Commands.Client;

/// <summary>How client commands print their results (<c>-o|--output</c>).</summary>
internal enum OutputFormat
{
    /// <summary>etcdctl's plain format: keys and values on their own lines.</summary>
    Simple,

    /// <summary>One JSON document per result (one per line for watch), keys and values as UTF-8 strings.</summary>
    Json,

    /// <summary>Aligned columns with a header.</summary>
    Table,
}

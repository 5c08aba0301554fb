using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>What an import did (or, in a dry run, would do) to one namespace.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ImportAction>))]
public enum ImportAction
{
    /// <summary>The namespace did not exist and was created with the file's working copy.</summary>
    Created,

    /// <summary>The working copy (and schema) were replaced by the file's.</summary>
    Updated,

    /// <summary>The working copy already equals the file's.</summary>
    Unchanged,

    /// <summary>Not imported: a different format, unpublished edits (without overwrite), or a concurrent edit.</summary>
    Conflict,

    /// <summary>Not imported: the file's content breaks a rule (name, key, size, schema).</summary>
    Invalid,
}

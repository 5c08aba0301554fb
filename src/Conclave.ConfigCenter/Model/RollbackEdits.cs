namespace Conclave.ConfigCenter.Model;

/// <summary>
/// What a rollback does with a working copy that holds unpublished edits. A rollback always resets a working copy
/// without such edits to the rolled-back release, so the next publish does not ship the bad content again.
/// </summary>
public enum RollbackEdits
{
    /// <summary>Refuse, naming the edited keys (the default: nothing is lost silently).</summary>
    Refuse,

    /// <summary>Drop them: the working copy becomes the rolled-back release.</summary>
    Discard,

    /// <summary>Keep the working copy as it is: the next publish ships those edits.</summary>
    Keep,
}

namespace Conclave.Flags;

/// <summary>A flags document that breaks docs/feature-flags.md: <see cref="Path"/> says where, the message what.</summary>
public sealed class FlagDocumentException : FormatException
{
    public FlagDocumentException(string path, string message)
        : base(string.IsNullOrEmpty(path) ? message : $"{path}: {message}")
    {
        Path = path;
    }

    public FlagDocumentException()
    {
        Path = "";
    }

    public FlagDocumentException(string message)
        : base(message)
    {
        Path = "";
    }

    public FlagDocumentException(string message, Exception innerException)
        : base(message, innerException)
    {
        Path = "";
    }

    /// <summary>Where in the document, e.g. <c>flags["Checkout.NewFlow"].rules[2].rollout</c>; empty for the document.</summary>
    public string Path { get; }
}

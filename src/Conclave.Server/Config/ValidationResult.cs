namespace Conclave.Server.Config;

/// <summary>
/// The answer of a validation dry-run: <see cref="Valid"/>, or the first error with its code and, for a parse
/// error, the 1-based line and column.
/// </summary>
public sealed record ValidationResult(bool Valid, string? Code = null, string? Message = null, int? Line = null, int? Column = null);

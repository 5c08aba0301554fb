namespace Conclave.Api.Errors;

/// <summary>
/// An expected failure with a catalogued code: raised inside the server (storage, cluster) and mapped once, at
/// the RPC edge, to the status etcd clients expect. <see cref="Exception.Message"/> is the human explanation.
/// </summary>
public class ConclaveErrorException : Exception
{
    public ConclaveErrorException(ErrorCode code, string? detail = null, Exception? inner = null)
        : base(detail ?? ErrorCatalogue.MessageOf(code), inner)
    {
        Code = code;
    }

    /// <summary>The catalogued error.</summary>
    public ErrorCode Code { get; }
}

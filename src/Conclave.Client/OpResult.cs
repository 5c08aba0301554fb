namespace Conclave.Client;

/// <summary>
/// Result of one key-value operation. The concrete type tells which operation it was:
/// <see cref="GetResult"/>, <see cref="PutResult"/>, <see cref="DeleteResult"/> or <see cref="TxnResult"/>.
/// </summary>
/// <param name="Revision">Revision of the keyspace when the operation was applied.</param>
public abstract record OpResult(long Revision);
